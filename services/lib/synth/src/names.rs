//! Vietnamese place and person names (written without diacritics, as in
//! most plate-reader and police systems' ASCII fields).

use rand::Rng;
use rand::seq::IndexedRandom;

/// Communes and wards named in the province's reporting; always present.
pub(crate) const NAMED_COMMUNES: &[(&str, bool)] = &[
    ("Hac Thanh", true),
    ("Quang Phu", true),
    ("Ba Thuoc", false),
];

/// Syllables that Thanh Hoa place names are commonly built from.
const PLACE_SYLLABLES: &[&str] = &[
    "An", "Binh", "Cam", "Dong", "Duc", "Hai", "Hoa", "Hoang", "Hong", "Hung", "Khanh", "Lam",
    "Loc", "Long", "Luong", "Minh", "My", "Nga", "Ngoc", "Nhu", "Phu", "Phuc", "Quang", "Son",
    "Tan", "Thach", "Thanh", "Thieu", "Tho", "Thuan", "Thuy", "Tien", "Trieu", "Trung", "Truong",
    "Van", "Vinh", "Xuan", "Yen", "Cao", "Dinh", "Hau", "Kim", "Lai", "Nam", "Tam", "Thien",
];

const FAMILY_NAMES: &[&str] = &[
    "Nguyen", "Le", "Tran", "Pham", "Hoang", "Vu", "Dang", "Bui", "Do", "Ho", "Ngo", "Duong",
    "Trinh", "Mai", "Cao", "Lo", "Ha", "Lu", "Quach", "Dinh",
];
const MIDDLE_NAMES: &[&str] = &[
    "Van", "Thi", "Duc", "Minh", "Ngoc", "Quang", "Xuan", "Huu", "Dinh", "Cong", "Thanh", "Kim",
];
const GIVEN_NAMES: &[&str] = &[
    "Anh", "Binh", "Cuong", "Dung", "Giang", "Hai", "Hanh", "Hung", "Huong", "Khoa", "Lan", "Linh",
    "Long", "Mai", "Nam", "Nga", "Phong", "Phuong", "Quan", "Son", "Tam", "Thao", "Thang", "Trang",
    "Tuan", "Viet", "Yen", "Hieu", "Dat", "Loan",
];

/// Vietnamese mobile prefixes (after the 2018 renumbering).
const MOBILE_PREFIXES: &[&str] = &[
    "032", "033", "035", "038", "039", "086", "096", "097", "098", "091", "094", "088", "070",
    "077", "079", "081", "083", "085",
];

/// A two-syllable place name, e.g. "Xuan Lap".
pub(crate) fn place(rng: &mut impl Rng) -> String {
    let first = PLACE_SYLLABLES.choose(rng).copied().unwrap_or("An");
    let mut second = PLACE_SYLLABLES.choose(rng).copied().unwrap_or("Binh");
    while second == first {
        second = PLACE_SYLLABLES.choose(rng).copied().unwrap_or("Binh");
    }
    format!("{first} {second}")
}

/// A full name: family, middle, given.
pub(crate) fn person(rng: &mut impl Rng) -> String {
    let pick = |list: &[&'static str], rng: &mut _| list.choose(rng).copied().unwrap_or("An");
    let family = pick(FAMILY_NAMES, rng);
    let middle = pick(MIDDLE_NAMES, rng);
    let given = pick(GIVEN_NAMES, rng);
    format!("{family} {middle} {given}")
}

/// A ten-digit mobile number.
pub(crate) fn phone(rng: &mut impl Rng) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).copied().unwrap_or("098");
    format!("{prefix}{:07}", rng.random_range(0..10_000_000))
}

/// Lower-case ASCII id fragment, e.g. "Ba Thuoc" -> "ba-thuoc".
pub(crate) fn slug(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_joins_lower_case_words() {
        assert_eq!(slug("Ba  Thuoc"), "ba-thuoc");
    }

    #[test]
    fn phones_have_ten_digits() {
        let mut rng = rand::rng();
        let number = phone(&mut rng);
        assert_eq!(number.len(), 10, "{number}");
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
    }
}
