//! Parquet tables with the CSV format's schema (cargo feature `parquet`):
//! [`to_parquet`] turns a table's CSV text, as [`super::log_tables`] and
//! [`super::truth_tables`] write it, into a Parquet file with the same
//! columns in the same order, each stored as its documented type
//! ([`super::column_type`]; every column nullable, an empty field is null).
//! [`ParquetCsv`] reads such a file back as CSV text, row by row, so the
//! event-log reader's checks apply to Parquet unchanged.
//! Must never: return a file whose columns differ from the CSV's.

use super::ColumnType;
use crate::io::csv::{CsvStream, Next};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use std::io::Read;
use std::sync::Arc;

/// Rows per row group.
const ROW_GROUP: usize = 1 << 20;

enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Text(Vec<ByteArray>),
    Bool(Vec<bool>),
}

struct Column {
    ty: ColumnType,
    values: Values,
    defined: Vec<i16>,
}

impl Column {
    fn new(ty: ColumnType) -> Column {
        let values = match ty {
            ColumnType::U64 | ColumnType::I64 => Values::I64(Vec::new()),
            ColumnType::U32 | ColumnType::U16 => Values::I32(Vec::new()),
            ColumnType::F32 => Values::F32(Vec::new()),
            ColumnType::F64 => Values::F64(Vec::new()),
            ColumnType::Text => Values::Text(Vec::new()),
            ColumnType::Bool => Values::Bool(Vec::new()),
        };
        Column {
            ty,
            values,
            defined: Vec::new(),
        }
    }

    /// Push one CSV field (empty = null).
    fn push(&mut self, field: &[u8]) -> Result<(), String> {
        if field.is_empty() {
            self.defined.push(0);
            return Ok(());
        }
        self.defined.push(1);
        let text = std::str::from_utf8(field).map_err(|_| "invalid UTF-8".to_string())?;
        let what = format!("`{text}` is not a {}", self.ty.name());
        let bad = |_| what.clone();
        match (&mut self.values, self.ty) {
            (Values::I64(v), ColumnType::U64) => {
                v.push(text.parse::<u64>().map_err(|e| bad(e.to_string()))? as i64)
            }
            (Values::I64(v), _) => v.push(text.parse::<i64>().map_err(|e| bad(e.to_string()))?),
            (Values::I32(v), ColumnType::U32) => {
                v.push(text.parse::<u32>().map_err(|e| bad(e.to_string()))? as i32)
            }
            (Values::I32(v), _) => v.push(i32::from(
                text.parse::<u16>().map_err(|e| bad(e.to_string()))?,
            )),
            (Values::F32(v), _) => v.push(text.parse::<f32>().map_err(|e| bad(e.to_string()))?),
            (Values::F64(v), _) => v.push(text.parse::<f64>().map_err(|e| bad(e.to_string()))?),
            (Values::Text(v), _) => v.push(ByteArray::from(field.to_vec())),
            (Values::Bool(v), _) => v.push(text.parse::<bool>().map_err(|e| bad(e.to_string()))?),
        }
        Ok(())
    }

    fn schema(&self, name: &str) -> String {
        let t = match self.ty {
            ColumnType::U64 => "int64 {} (INTEGER(64,false))",
            ColumnType::I64 => "int64 {}",
            ColumnType::U32 => "int32 {} (INTEGER(32,false))",
            ColumnType::U16 => "int32 {} (INTEGER(16,false))",
            ColumnType::F32 => "float {}",
            ColumnType::F64 => "double {}",
            ColumnType::Text => "binary {} (STRING)",
            ColumnType::Bool => "boolean {}",
        };
        format!("optional {};", t.replace("{}", name))
    }
}

/// A table's CSV text (first line the header) as a Parquet file. `file`
/// names the table (`visits.csv`, `truth/leads.csv`) for the column types.
pub fn to_parquet(file: &str, csv: &str) -> Result<Vec<u8>, String> {
    let err = |e: parquet::errors::ParquetError| format!("{file}: {e}");
    let mut stream = CsvStream::new(csv.as_bytes());
    let Ok(Next::Record(_)) = stream.next() else {
        return Err(format!("{file}: no header"));
    };
    let names: Vec<String> = (0..stream.len())
        .map(|i| String::from_utf8_lossy(stream.field(i)).into_owned())
        .collect();
    let mut columns = Vec::with_capacity(names.len());
    for n in &names {
        let ty = super::column_type(file, n)
            .ok_or_else(|| format!("{file}: column `{n}` has no documented type"))?;
        columns.push(Column::new(ty));
    }
    let schema = format!(
        "message {} {{ {} }}",
        file.trim_end_matches(".csv").replace('/', "_"),
        names
            .iter()
            .zip(&columns)
            .map(|(n, c)| c.schema(n))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&schema).map_err(err)?);
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(err)?;
    let mut rows = 0usize;
    let mut flush = |columns: &mut Vec<Column>| -> Result<(), String> {
        let mut group = writer.next_row_group().map_err(err)?;
        for c in columns.iter_mut() {
            let mut w = group
                .next_column()
                .map_err(err)?
                .ok_or_else(|| format!("{file}: schema and columns disagree"))?;
            let d = Some(&c.defined[..]);
            match &c.values {
                Values::I64(v) => w.typed::<Int64Type>().write_batch(v, d, None),
                Values::I32(v) => w.typed::<Int32Type>().write_batch(v, d, None),
                Values::F32(v) => w.typed::<FloatType>().write_batch(v, d, None),
                Values::F64(v) => w.typed::<DoubleType>().write_batch(v, d, None),
                Values::Text(v) => w.typed::<ByteArrayType>().write_batch(v, d, None),
                Values::Bool(v) => w.typed::<BoolType>().write_batch(v, d, None),
            }
            .map_err(err)?;
            w.close().map_err(err)?;
            *c = Column::new(c.ty);
        }
        group.close().map_err(err)?;
        Ok(())
    };
    loop {
        match stream.next() {
            Ok(Next::End) => break,
            Ok(Next::Record(line)) => {
                if stream.len() != columns.len() {
                    return Err(format!("{file}:{line}: {} fields", stream.len()));
                }
                for (i, c) in columns.iter_mut().enumerate() {
                    c.push(stream.field(i))
                        .map_err(|e| format!("{file}:{line}:{}: {e}", i + 1))?;
                }
                rows += 1;
                if rows % ROW_GROUP == 0 {
                    flush(&mut columns)?;
                }
            }
            Ok(Next::Broken(line, col, msg)) => return Err(format!("{file}:{line}:{col}: {msg}")),
            Err(e) => return Err(format!("{file}: {e}")),
        }
    }
    if rows == 0 || rows % ROW_GROUP != 0 {
        flush(&mut columns)?;
    }
    writer.into_inner().map_err(err)
}

/// A Parquet file read as CSV text (header, then one line per row; nulls
/// empty, text quoted where needed): plug it into any CSV reader.
pub struct ParquetCsv {
    rows: parquet::record::reader::RowIter<'static>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ParquetCsv {
    /// Open a Parquet file; the error names it.
    pub fn open(path: &std::path::Path) -> Result<ParquetCsv, String> {
        let name = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
        let reader = SerializedFileReader::new(file).map_err(|e| format!("{name}: {e}"))?;
        let header: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let mut buf = header.join(",").into_bytes();
        buf.push(b'\n');
        Ok(ParquetCsv {
            rows: reader.into_iter(),
            buf,
            pos: 0,
            done: false,
        })
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        for _ in 0..4096 {
            // The parquet crate `expect`s a readable row group: a corrupt
            // file must be an error naming the file, not a crash.
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.rows.next()))
                .map_err(|_| {
                    std::io::Error::other("corrupt Parquet file (a row group cannot be read)")
                })?;
            let Some(row) = next else {
                self.done = true;
                return Ok(());
            };
            let row = row.map_err(std::io::Error::other)?;
            for (i, (_, field)) in row.get_column_iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                use std::io::Write as _;
                match field {
                    Field::Null => {}
                    Field::Str(s) => {
                        if s.contains([',', '"', '\n', '\r']) {
                            write!(self.buf, "\"{}\"", s.replace('"', "\"\""))?;
                        } else {
                            self.buf.extend_from_slice(s.as_bytes());
                        }
                    }
                    // As the CSV writer prints them (shortest round trip).
                    Field::Float(v) => write!(self.buf, "{v}")?,
                    Field::Double(v) => write!(self.buf, "{v}")?,
                    other => write!(self.buf, "{other}")?,
                }
            }
            self.buf.push(b'\n');
        }
        Ok(())
    }
}

impl Read for ParquetCsv {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
