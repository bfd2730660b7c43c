//! Problems found in a user's input (a path file, an event log, an external
//! tool's table): every one counted, the first [`MAX_PROBLEMS`] kept in
//! detail, rendered one per line under a count — the one shape every reader
//! of user data reports errors in.
//! Must never: drop the count of problems it did not keep.

use std::fmt;

/// Problems kept in detail (the rest are only counted).
pub const MAX_PROBLEMS: usize = 20;

/// The first [`MAX_PROBLEMS`] problems, in the order found, and how many there were.
#[derive(Clone, Debug, PartialEq)]
pub struct ProblemList<P> {
    /// The first problems, in the order found.
    pub problems: Vec<P>,
    /// Every problem found.
    pub total: usize,
}

impl<P> Default for ProblemList<P> {
    fn default() -> Self {
        ProblemList {
            problems: Vec::new(),
            total: 0,
        }
    }
}

impl<P> ProblemList<P> {
    /// Count a problem; keep it if fewer than [`MAX_PROBLEMS`] are kept.
    pub fn push(&mut self, p: P) {
        self.total += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }

    /// Whether nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `Ok(value)` when nothing was wrong, else the list as the error.
    pub fn or<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl<P: fmt::Display> fmt::Display for ProblemList<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s)", self.total)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.total > self.problems.len() {
            write!(f, "\n  … and {} more", self.total - self.problems.len())?;
        }
        Ok(())
    }
}

impl<P: fmt::Display + fmt::Debug> std::error::Error for ProblemList<P> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_are_kept_but_all_are_counted() {
        let mut p = ProblemList::default();
        for i in 0..25 {
            p.push(format!("problem {i}"));
        }
        assert_eq!((p.problems.len(), p.total), (MAX_PROBLEMS, 25));
        let text = p.to_string();
        assert!(text.starts_with("25 problem(s)\n  problem 0\n"));
        assert!(text.ends_with("problem 19\n  … and 5 more"));
        assert_eq!(ProblemList::<String>::default().or(7), Ok(7));
    }
}
