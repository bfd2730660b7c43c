//! The event-log format's tables and columns, in the order the writer
//! writes them and the reader expects them (docs/event-log.md). One list,
//! read by both sides, so they cannot drift apart.

/// A table of the format: file name, columns (name, required), and whether
/// the file itself is required.
pub struct TableSpec {
    /// File name inside the folder.
    pub file: &'static str,
    /// Whether a folder without it is a problem.
    pub required: bool,
    /// (column, required) in the order the writer writes them.
    pub columns: &'static [(&'static str, bool)],
}

/// Every table the reader knows, in reading order. A folder's other `.csv`
/// files are problems (a misspelt table must not be skipped silently).
pub const TABLES: [TableSpec; 9] = [
    TableSpec {
        file: "visits.csv",
        required: true,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("cookie_id", true),
            ("channel", true),
            ("campaign", false),
            ("click_id", false),
            ("landing_page", false),
            ("pages_viewed", false),
            ("dwell_s", false),
            ("ip_hash", false),
            ("user_agent", false),
            ("email_token", false),
            ("user_id", false),
        ],
    },
    TableSpec {
        file: "form_fills.csv",
        required: true,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("cookie_id", false),
            ("click_id", false),
            ("user_id", false),
            ("email", true),
        ],
    },
    TableSpec {
        file: "crm_leads.csv",
        required: true,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("form_fill_id", true),
            ("click_id", false),
            ("email", true),
        ],
    },
    TableSpec {
        file: "opportunities.csv",
        required: false,
        columns: &[("event_id", true), ("time_ms", true), ("crm_lead_id", true)],
    },
    TableSpec {
        file: "deals.csv",
        required: false,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("revenue", true),
            ("email", true),
        ],
    },
    TableSpec {
        file: "conversion_imports.csv",
        required: false,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("channel", true),
            ("click_id", true),
            ("revenue", true),
        ],
    },
    TableSpec {
        file: "platforms.csv",
        required: false,
        columns: &[
            ("channel", true),
            ("click_window_days", true),
            ("view_window_days", true),
        ],
    },
    TableSpec {
        file: "platform_touches.csv",
        required: false,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("channel", true),
            ("user", true),
            ("kind", true),
        ],
    },
    TableSpec {
        file: "platform_conversions.csv",
        required: false,
        columns: &[
            ("event_id", true),
            ("time_ms", true),
            ("channel", true),
            ("user", true),
            ("form_fill_id", true),
        ],
    },
];

/// The header line of table `file` (with its newline), as the writer writes it.
pub fn header(file: &str) -> String {
    let table = TABLES
        .iter()
        .find(|t| t.file == file)
        .expect("a table of the event-log format");
    let mut line = table
        .columns
        .iter()
        .map(|c| c.0)
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}
