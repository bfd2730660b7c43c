//! Emails: each person's addresses, and the ways a typed email differs from
//! the true one (typos, case / dot / plus-tag variants).

use crate::base::rng::Stream;

const FIRST: [&str; 24] = [
    "anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "iris", "jack", "kim",
    "leo", "maria", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara", "umar", "vera", "will",
    "zoe",
];
const LAST: [&str; 20] = [
    "smith", "garcia", "mueller", "rossi", "martin", "kowalski", "novak", "silva", "jensen",
    "dubois", "tanaka", "khan", "oconnor", "nguyen", "larsen", "moreau", "fischer", "lopez",
    "brown", "wilson",
];
const FREE_DOMAINS: [&str; 4] = ["gmail.com", "outlook.com", "yahoo.com", "proton.me"];

/// The primary and second address of a person (unique by person index).
pub fn addresses(person: u32, group: u32, is_office: bool, name_bits: u64) -> (String, String) {
    let first = FIRST[(name_bits % FIRST.len() as u64) as usize];
    let last = LAST[((name_bits >> 8) % LAST.len() as u64) as usize];
    let free = FREE_DOMAINS[((name_bits >> 16) % FREE_DOMAINS.len() as u64) as usize];
    let other =
        FREE_DOMAINS[((name_bits >> 16).wrapping_add(1) % FREE_DOMAINS.len() as u64) as usize];
    let primary = if is_office {
        format!("{first}.{last}{person}@company{group}.com")
    } else {
        format!("{first}.{last}{person}@{free}")
    };
    let second = format!("{first}{last}{person}@{other}");
    (primary, second)
}

/// One character substituted, deleted or doubled in the local part.
pub fn typo(email: &str, u_kind: f64, u_pos: f64, u_char: f64) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let chars: Vec<char> = local.chars().collect();
    if chars.is_empty() {
        return email.to_string();
    }
    let pos = ((u_pos * chars.len() as f64) as usize).min(chars.len() - 1);
    let letter = (b'a' + ((u_char * 26.0) as u8).min(25)) as char;
    let mut out: Vec<char> = chars.clone();
    if u_kind < 0.4 {
        let replacement = if out[pos] == letter {
            if letter == 'a' { 'b' } else { 'a' }
        } else {
            letter
        };
        out[pos] = replacement;
    } else if u_kind < 0.7 && chars.len() > 1 {
        out.remove(pos);
    } else {
        out.insert(pos, chars[pos]);
    }
    format!("{}@{}", out.into_iter().collect::<String>(), domain)
}

/// A variant that a normaliser can undo: case, dots in the local part, or a plus tag.
pub fn variant(email: &str, u_kind: f64) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    if u_kind < 0.4 {
        // Capitalised words.
        let cap: String = local
            .split('.')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(".");
        format!("{cap}@{domain}")
    } else if u_kind < 0.7 {
        format!("{}@{}", local.replace('.', ""), domain)
    } else {
        format!("{local}+news@{domain}")
    }
}

/// What a person typed in one form fill.
pub struct Typed {
    /// The email string.
    pub email: String,
    /// Used the second address.
    pub second: bool,
    /// Had a typo.
    pub typo: bool,
    /// Was a variant.
    pub variant: bool,
}

/// Draw what is typed; always consumes the same number of draws.
pub fn type_email(
    s: &mut Stream,
    primary: &str,
    second: &str,
    second_rate: f64,
    typo_rate: f64,
    variant_rate: f64,
) -> Typed {
    let (u_second, u_typo, u_variant, u_kind, u_pos, u_char, u_vkind) = (
        s.uniform(),
        s.uniform(),
        s.uniform(),
        s.uniform(),
        s.uniform(),
        s.uniform(),
        s.uniform(),
    );
    let use_second = u_second < second_rate;
    let mut email = if use_second {
        second.to_string()
    } else {
        primary.to_string()
    };
    let is_variant = u_variant < variant_rate;
    if is_variant {
        email = variant(&email, u_vkind);
    }
    let is_typo = u_typo < typo_rate;
    if is_typo {
        email = typo(&email, u_kind, u_pos, u_char);
    }
    Typed {
        email,
        second: use_second,
        typo: is_typo,
        variant: is_variant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_change_exactly_one_edit() {
        let e = "anna.smith12@gmail.com";
        for (k, p, c) in [(0.1, 0.5, 0.3), (0.5, 0.0, 0.0), (0.9, 0.99, 0.9)] {
            let t = typo(e, k, p, c);
            assert_ne!(t, e);
            assert!(t.ends_with("@gmail.com"));
            assert!((t.len() as i64 - e.len() as i64).abs() <= 1);
        }
    }

    #[test]
    fn variants_normalise_back() {
        let e = "anna.smith12@gmail.com";
        assert_eq!(variant(e, 0.1), "Anna.Smith12@gmail.com");
        assert_eq!(variant(e, 0.5), "annasmith12@gmail.com");
        assert_eq!(variant(e, 0.9), "anna.smith12+news@gmail.com");
    }
}
