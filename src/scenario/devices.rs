//! Device and browser mixes: device types, browser families, and rates
//! per device type and browser (tag blocking, WebKit).

use super::*;

/// Shares per device type; need not sum to 1 (they are normalised).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceMix {
    /// Desktop and laptop computers.
    #[serde(default)]
    pub desktop: f64,
    /// Phones.
    #[serde(default)]
    pub mobile: f64,
    /// Tablets.
    #[serde(default)]
    pub tablet: f64,
}

impl DeviceMix {
    /// The shares as an array in [`DEVICE_TYPES`] order.
    pub fn as_array(&self) -> [f64; 3] {
        [self.desktop, self.mobile, self.tablet]
    }
}

/// Device types, in the order of [`DeviceMix::as_array`].
pub const DEVICE_TYPES: [&str; 3] = ["desktop", "mobile", "tablet"];
/// Browser families, in the order of [`BrowserMix::as_array`].
pub const BROWSERS: [&str; 5] = ["chrome", "safari", "firefox", "edge", "in_app"];

/// Shares per browser family for one device type.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct BrowserMix {
    /// Chrome and Chromium-based browsers.
    #[serde(default)]
    pub chrome: f64,
    /// Safari (ITP applies).
    #[serde(default)]
    pub safari: f64,
    /// Firefox.
    #[serde(default)]
    pub firefox: f64,
    /// Edge.
    #[serde(default)]
    pub edge: f64,
    /// In-app browsers (social apps' web views).
    #[serde(default)]
    pub in_app: f64,
}

impl BrowserMix {
    /// The shares in [`BROWSERS`] order.
    pub fn as_array(&self) -> [f64; 5] {
        [
            self.chrome,
            self.safari,
            self.firefox,
            self.edge,
            self.in_app,
        ]
    }
}

impl BrowserMix {
    /// Every family at 0.
    pub const ZERO: BrowserMix = BrowserMix {
        chrome: 0.0,
        safari: 0.0,
        firefox: 0.0,
        edge: 0.0,
        in_app: 0.0,
    };
}

fn zero_mix() -> BrowserMix {
    BrowserMix::ZERO
}

/// A share per device type and browser family: of devices that never run
/// the tracker (`tag_block_rate`), or whose browser runs on WebKit
/// (`webkit_share`). In a scenario, a family or a device type not listed is 0;
/// omitting the whole table keeps the defaults.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeviceBrowserRates {
    /// On desktops.
    #[serde(default = "zero_mix")]
    pub desktop: BrowserMix,
    /// On phones.
    #[serde(default = "zero_mix")]
    pub mobile: BrowserMix,
    /// On tablets.
    #[serde(default = "zero_mix")]
    pub tablet: BrowserMix,
}

/// Shares of devices that never run the tracker (ad blockers, strict privacy modes).
pub type TagBlockRates = DeviceBrowserRates;

impl Default for DeviceBrowserRates {
    /// Tag blocking's defaults: about 23 % of desktop devices at the default browser mix (scenarios/reference.toml:
    /// 15–30 % of desktop), a few percent of mobile. Assumptions.
    fn default() -> Self {
        let b = |chrome, safari, firefox, edge| BrowserMix {
            chrome,
            safari,
            firefox,
            edge,
            in_app: 0.0,
        };
        DeviceBrowserRates {
            desktop: b(0.25, 0.15, 0.35, 0.15),
            mobile: b(0.03, 0.08, 0.10, 0.0),
            tablet: b(0.03, 0.08, 0.10, 0.0),
        }
    }
}

impl DeviceBrowserRates {
    /// 0 everywhere (no tag blocking).
    pub const NONE: DeviceBrowserRates = DeviceBrowserRates {
        desktop: BrowserMix::ZERO,
        mobile: BrowserMix::ZERO,
        tablet: BrowserMix::ZERO,
    };

    /// `webkit_share`'s defaults: on iOS and iPadOS every browser and in-app
    /// view runs on WebKit, so a phone's or tablet's Chrome, Firefox, Edge or
    /// in-app browser is WebKit at the iOS share of that device type (about
    /// 44 % of phones and 61 % of tablets at the default browser mix; Chrome
    /// is mostly Android's). Desktop browsers other than Safari are not.
    /// Safari needs no entry (always WebKit).
    pub fn webkit_default() -> DeviceBrowserRates {
        let b = |chrome, firefox_edge_in_app| BrowserMix {
            chrome,
            safari: 1.0,
            firefox: firefox_edge_in_app,
            edge: firefox_edge_in_app,
            in_app: firefox_edge_in_app,
        };
        DeviceBrowserRates {
            desktop: BrowserMix {
                safari: 1.0,
                ..BrowserMix::ZERO
            },
            mobile: b(0.08, 0.44),
            tablet: b(0.14, 0.61),
        }
    }

    /// The per-device-type tables in [`DEVICE_TYPES`] order.
    pub fn as_array(&self) -> [&BrowserMix; 3] {
        [&self.desktop, &self.mobile, &self.tablet]
    }

    /// The rate for a device type and browser family (indices into
    /// [`DEVICE_TYPES`] and [`BROWSERS`]).
    pub fn rate(&self, device_type: usize, browser: usize) -> f64 {
        self.as_array()[device_type].as_array()[browser]
    }
}

/// Browser shares per device type.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Browsers {
    /// On desktops.
    pub desktop: BrowserMix,
    /// On phones.
    pub mobile: BrowserMix,
    /// On tablets.
    pub tablet: BrowserMix,
}

impl Default for Browsers {
    fn default() -> Self {
        let b = |chrome, safari, firefox, edge, in_app| BrowserMix {
            chrome,
            safari,
            firefox,
            edge,
            in_app,
        };
        Browsers {
            desktop: b(0.65, 0.15, 0.07, 0.13, 0.0),
            mobile: b(0.50, 0.40, 0.02, 0.0, 0.08),
            tablet: b(0.40, 0.55, 0.02, 0.0, 0.03),
        }
    }
}
