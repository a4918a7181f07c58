//! Container names: validation and Docker-style generated names.

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "festive",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];
const NOUNS: &[&str] = &[
    "archimedes",
    "babbage",
    "curie",
    "dijkstra",
    "euler",
    "feynman",
    "galileo",
    "hopper",
    "turing",
    "knuth",
    "lovelace",
    "mccarthy",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "wozniak",
    "yonath",
];

/// Whether Docker would accept `name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A random "adjective_scientist" name with a numeric suffix to keep collisions rare.
pub fn generate() -> String {
    let r: u64 = rand::random();
    let a = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let n = NOUNS[((r >> 16) % NOUNS.len() as u64) as usize];
    format!("{a}_{n}{}", (r >> 32) % 100)
}
