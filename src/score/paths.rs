//! Path-length distributions of journeys (touches per journey), converting
//! and non-converting apart. Needs no truth: on the oracle partition it is the
//! true distribution, on a stitcher's partition the observed one.
//! Fragmentation cuts one person's path into many short ones — non-converting
//! paths look short and numerous — which biases path models (Markov, Shapley).
//! Must never: read the truth ledger (it sees only journeys).

use crate::attribute::Journeys;
use serde::Serialize;

/// Upper bounds (inclusive) of the histogram bins; the last bin is open.
pub const LENGTH_BINS: [&str; 9] = ["0", "1", "2", "3", "4", "5", "6-10", "11-20", "21+"];

fn bin(len: usize) -> usize {
    match len {
        0..=5 => len,
        6..=10 => 6,
        11..=20 => 7,
        _ => 8,
    }
}

/// Length distribution of one kind of journey.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LengthDist {
    /// Journeys counted.
    pub journeys: u64,
    /// Mean touches per journey (0 when there are none).
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// Share of journeys in each of [`LENGTH_BINS`] (all 0 when there are none).
    pub share: [f64; 9],
}

/// Path lengths of converting and non-converting journeys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PathLengths {
    /// Journeys holding a lead (touches up to the lead).
    pub converting: LengthDist,
    /// Journeys without a lead.
    pub non_converting: LengthDist,
}

fn dist(mut lengths: Vec<usize>) -> LengthDist {
    let n = lengths.len();
    if n == 0 {
        return LengthDist::default();
    }
    lengths.sort_unstable();
    let rank = |q: f64| lengths[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
    let mut share = [0.0; 9];
    for &l in &lengths {
        share[bin(l)] += 1.0;
    }
    share.iter_mut().for_each(|s| *s /= n as f64);
    LengthDist {
        journeys: n as u64,
        mean: lengths.iter().sum::<usize>() as f64 / n as f64,
        p50: rank(0.5),
        p90: rank(0.9),
        share,
    }
}

/// Path-length distributions of a set of journeys.
pub fn path_lengths(journeys: &Journeys) -> PathLengths {
    let (mut conv, mut null) = (Vec::new(), Vec::new());
    for j in &journeys.journeys {
        let len = (j.end - j.start) as usize;
        if j.lead_ms.is_some() {
            conv.push(len);
        } else {
            null.push(len);
        }
    }
    PathLengths {
        converting: dist(conv),
        non_converting: dist(null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_by_hand() {
        let mut js = Journeys::new(crate::log::EventLog::labels_for(&["a".into()]), 1);
        js.push(&[(1, 0), (2, 0), (3, 0)], Some(4), 1.0, 0.0);
        js.push(&[(1, 0)], Some(2), 1.0, 0.0);
        js.push(&[], Some(2), 1.0, 0.0);
        for k in 1..=12 {
            let t: Vec<(i64, u16)> = (0..k).map(|i| (i as i64, 0)).collect();
            js.push(&t, None, 0.0, 0.0);
        }
        let p = path_lengths(&js);
        assert_eq!(p.converting.journeys, 3);
        assert!((p.converting.mean - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(p.converting.p50, 1.0);
        assert_eq!(p.converting.share[0], 1.0 / 3.0);
        assert_eq!(p.non_converting.journeys, 12);
        assert_eq!(p.non_converting.p90, 11.0);
        // 6..=10 hold five journeys; 11 and 12 two.
        assert!((p.non_converting.share[6] - 5.0 / 12.0).abs() < 1e-12);
        assert!((p.non_converting.share[7] - 2.0 / 12.0).abs() < 1e-12);
        assert!((p.non_converting.share.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let empty = path_lengths(&Journeys::new(crate::log::EventLog::labels_for(&[]), 0));
        assert_eq!(empty, PathLengths::default());
    }
}
