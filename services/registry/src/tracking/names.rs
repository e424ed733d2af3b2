//! Readable names for runs that were not given one (`brave-owl-417`), as MLflow makes.

const ADJECTIVES: [&str; 32] = [
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair", "fierce",
    "gentle", "glad", "grand", "happy", "honest", "keen", "kind", "lively", "lucky", "merry", "mighty",
    "noble", "polite", "proud", "quick", "quiet", "sharp", "smart", "steady", "swift", "wise",
];

const NOUNS: [&str; 32] = [
    "ant", "bat", "bear", "bee", "crab", "crane", "deer", "dove", "eel", "elk", "finch", "fox", "frog",
    "goat", "hare", "hawk", "heron", "ibis", "lark", "lynx", "mole", "moth", "newt", "owl", "panda", "ram",
    "seal", "shrew", "snail", "swan", "toad", "wolf",
];

pub(crate) fn random_run_name() -> String {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let number = u16::from_le_bytes([bytes[2], bytes[3]]) % 1000;
    format!("{}-{}-{number}", ADJECTIVES[bytes[0] as usize % 32], NOUNS[bytes[1] as usize % 32])
}
