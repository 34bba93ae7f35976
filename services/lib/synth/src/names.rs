//! Vietnamese place and person names, written as people write them (with
//! diacritics: "Bá Thước", "Nguyễn Thị Hương"); ids made from them are
//! ASCII (`slug`).

use rand::Rng;
use rand::seq::IndexedRandom;

/// Communes and wards named in the province's reporting; always present.
pub(crate) const NAMED_COMMUNES: &[(&str, bool)] = &[
    ("Hạc Thành", true),
    ("Quảng Phú", true),
    ("Bá Thước", false),
];

/// Syllables that Thanh Hoa place names are commonly built from.
const PLACE_SYLLABLES: &[&str] = &[
    "An",
    "Bình",
    "Cẩm",
    "Đông",
    "Đức",
    "Hải",
    "Hòa",
    "Hoằng",
    "Hồng",
    "Hưng",
    "Khánh",
    "Lâm",
    "Lộc",
    "Long",
    "Lương",
    "Minh",
    "Mỹ",
    "Nga",
    "Ngọc",
    "Như",
    "Phú",
    "Phúc",
    "Quảng",
    "Sơn",
    "Tân",
    "Thạch",
    "Thành",
    "Thiệu",
    "Thọ",
    "Thuận",
    "Thủy",
    "Tiến",
    "Triệu",
    "Trung",
    "Trường",
    "Vân",
    "Vĩnh",
    "Xuân",
    "Yên",
    "Cao",
    "Định",
    "Hậu",
    "Kim",
    "Lai",
    "Nam",
    "Tâm",
    "Thiện",
];

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Lê", "Trần", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
    "Trịnh", "Mai", "Cao", "Lò", "Hà", "Lữ", "Quách", "Đinh",
];
const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Đức", "Minh", "Ngọc", "Quang", "Xuân", "Hữu", "Đình", "Công", "Thanh", "Kim",
];
const GIVEN_NAMES: &[&str] = &[
    "Anh", "Bình", "Cường", "Dũng", "Giang", "Hải", "Hạnh", "Hùng", "Hương", "Khoa", "Lan", "Linh",
    "Long", "Mai", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Trang",
    "Tuấn", "Việt", "Yến", "Hiếu", "Đạt", "Loan",
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

/// Lower-case ASCII id fragment, e.g. "Bá Thước" -> "ba-thuoc" (đ -> d).
pub(crate) fn slug(name: &str) -> String {
    deunicode::deunicode(name)
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_joins_lower_case_ascii_words() {
        assert_eq!(slug("Ba  Thuoc"), "ba-thuoc");
        assert_eq!(slug("Bá Thước"), "ba-thuoc");
        assert_eq!(slug("Đông Sơn"), "dong-son");
        assert_eq!(slug("Hạc Thành"), "hac-thanh");
    }

    #[test]
    fn every_name_part_has_a_distinct_ascii_form() {
        // Ids come from the ASCII form: two parts folding to one would give
        // two places one id.
        for list in [PLACE_SYLLABLES, FAMILY_NAMES, MIDDLE_NAMES, GIVEN_NAMES] {
            let mut folded: Vec<String> = list.iter().map(|part| slug(part)).collect();
            folded.sort();
            folded.dedup();
            assert_eq!(folded.len(), list.len(), "{list:?}");
        }
    }

    #[test]
    fn phones_have_ten_digits() {
        let mut rng = rand::rng();
        let number = phone(&mut rng);
        assert_eq!(number.len(), 10, "{number}");
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
    }
}
