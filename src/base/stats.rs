//! Summary statistics of replicate values: mean, sample sd and a t-based
//! 95 % confidence interval. Pure arithmetic: never reads files, never
//! prints, and never depends on the order values were computed in.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Summary statistics of a sample: mean, sample sd and a t-based 95 %
/// confidence interval for the mean (`mean ± t(0.975, n − 1) · sd / √n`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Sample mean (NaN, written as null, when n = 0).
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator); None when n < 2.
    pub sd: Option<f64>,
    /// Lower end of the 95 % CI; None when n < 2.
    pub ci95_low: Option<f64>,
    /// Upper end of the 95 % CI; None when n < 2.
    pub ci95_high: Option<f64>,
    /// Sample size.
    pub n: usize,
}

impl Stats {
    /// Half the width of the 95 % CI; None when n < 2.
    pub fn half_width(&self) -> Option<f64> {
        Some((self.ci95_high? - self.ci95_low?) / 2.0)
    }

    /// The statistics of `xs` (summed in order, so the result never depends
    /// on how the values were computed in parallel).
    pub fn of(xs: &[f64]) -> Stats {
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Stats {
                mean,
                sd: None,
                ci95_low: None,
                ci95_high: None,
                n,
            };
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let half = t975(n - 1) * sd / (n as f64).sqrt();
        Stats {
            mean,
            sd: Some(sd),
            ci95_low: Some(mean - half),
            ci95_high: Some(mean + half),
            n,
        }
    }

    /// True when the 95 % CI exists and excludes 0.
    pub fn excludes_zero(&self) -> bool {
        matches!((self.ci95_low, self.ci95_high), (Some(l), Some(h)) if l > 0.0 || h < 0.0)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|d| d.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_eight_values_match_a_hand_computation() {
        // mean 5, sample variance 32/7, sd = 2.1380899353, se = sd/√8 =
        // 0.7559289460; t(0.975, 7) = 2.3646242516 (tables: 2.365);
        // half-width = 1.7874879182.
        let s = Stats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert!((s.mean - 5.0).abs() < 1e-12);
        assert!((s.sd.unwrap() - 2.138_089_935_299_395).abs() < 1e-12);
        assert!((t975(7) - 2.364_624_251_592_785).abs() < 1e-9);
        assert!((s.ci95_low.unwrap() - (5.0 - 1.787_487_918_236_21)).abs() < 1e-9);
        assert!((s.ci95_high.unwrap() - (5.0 + 1.787_487_918_236_21)).abs() < 1e-9);
        assert!(s.excludes_zero());
        // A constant sample: sd 0, the CI collapses on the mean.
        let c = Stats::of(&[0.0; 4]);
        assert_eq!(
            (c.mean, c.sd, c.ci95_low, c.ci95_high),
            (0.0, Some(0.0), Some(0.0), Some(0.0))
        );
        assert!(!c.excludes_zero());
        let one = Stats::of(&[3.0]);
        assert_eq!((one.sd, one.ci95_low, one.ci95_high), (None, None, None));
        assert!(!one.excludes_zero());
    }

    /// On a metric with a known mean, the t-based 95 % CI of n = 5 seeded
    /// normal draws covers it in 93–97 % of 2,000 experiments (binomial sd of
    /// the rate: 0.5 %). A z-based interval (1.96) would cover only ~88 %
    /// at n = 5, so this also catches the wrong quantile.
    #[test]
    fn the_ci_covers_a_known_mean_95_percent_of_the_time() {
        use crate::base::rng::{Stream, StreamKind};
        let (true_mean, sd, n, experiments) = (3.0, 2.0, 5, 2_000);
        let mut covered = 0;
        for e in 0..experiments {
            let mut rng = Stream::new(2024, 0, StreamKind::Experiment, 7, e, 0);
            let xs: Vec<f64> = (0..n).map(|_| true_mean + sd * rng.normal()).collect();
            let s = Stats::of(&xs);
            if s.ci95_low.unwrap() <= true_mean && true_mean <= s.ci95_high.unwrap() {
                covered += 1;
            }
        }
        let rate = covered as f64 / experiments as f64;
        assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
    }
}
