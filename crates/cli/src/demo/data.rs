//! The demo's data: card transactions of a few thousand customers, with a fraud label that
//! follows the transaction's amount, hour, distance, merchant and whether the card was present —
//! until a fraud ring moves in (`World::shift`): amounts grow, distances lengthen, most payments
//! are card-not-present, and fraud follows a new pattern (mid-sized card-present payments far
//! from home at fuel and electronics merchants: skimmed cards).

use cairn_domain::Timestamp;
use serde_json::{Value, json};

pub const CUSTOMERS: u64 = 3_000;
const DAY_MICROS: i64 = 86_400_000_000;

/// SplitMix64: the same data on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone)]
pub struct Transaction {
    pub id: u64,
    pub customer_id: u64,
    pub at: i64,
    pub amount: f64,
    pub hour: i64,
    pub distance_km: f64,
    pub card_present: bool,
    /// grocery 0, fuel 1, online 2, electronics 3, travel 4.
    pub merchant_code: i64,
    pub account_age_days: f64,
    pub is_fraud: bool,
}

impl Transaction {
    /// What the model takes.
    pub fn features(&self) -> Value {
        json!({
            "amount": self.amount,
            "hour": self.hour,
            "distance_km": self.distance_km,
            "card_present": i64::from(self.card_present),
            "merchant_code": self.merchant_code,
            "account_age_days": self.account_age_days,
        })
    }

    /// The whole row, as streamed into `transactions`.
    pub fn record(&self) -> Value {
        let mut record = self.features();
        record["transaction_id"] = json!(format!("t{}", self.id));
        record["customer_id"] = json!(self.customer_id);
        record["ts"] = json!(Timestamp::from_micros(self.at).map(|at| at.to_string()).unwrap_or_default());
        record["is_fraud"] = json!(i64::from(self.is_fraud));
        record
    }
}

/// Rows as CSV with `transactions`' columns.
pub fn csv(rows: &[Transaction]) -> String {
    let mut body = String::from(
        "transaction_id,customer_id,ts,amount,hour,distance_km,card_present,merchant_code,account_age_days,is_fraud\n",
    );
    for tx in rows {
        let at = Timestamp::from_micros(tx.at).map(|at| at.to_string()).unwrap_or_default();
        body.push_str(&format!(
            "t{},{},{at},{:.2},{},{:.2},{},{},{:.1},{}\n",
            tx.id,
            tx.customer_id,
            tx.amount,
            tx.hour,
            tx.distance_km,
            i64::from(tx.card_present),
            tx.merchant_code,
            tx.account_age_days,
            i64::from(tx.is_fraud)
        ));
    }
    body
}

pub struct World {
    random: Random,
    next_id: u64,
    shifted: bool,
    /// When the data starts: six weeks ago.
    start: i64,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl World {
    pub fn new(seed: u64) -> Self {
        Self {
            random: Random(seed),
            next_id: 1,
            shifted: false,
            start: Timestamp::now().as_micros() - 42 * DAY_MICROS,
        }
    }

    /// The fraud ring arrives: the data and the fraud pattern change from here on.
    pub fn shift(&mut self) {
        self.shifted = true;
    }

    /// `rows` transactions spread over five weeks, ending a week ago.
    pub fn history(&mut self, rows: u64) -> Vec<Transaction> {
        let span = 35 * DAY_MICROS;
        (0..rows).map(|i| self.transaction(self.start + span * i as i64 / rows as i64)).collect()
    }

    /// `rows` transactions of the last `days` days.
    pub fn recent(&mut self, rows: u64, days: i64) -> Vec<Transaction> {
        let span = days * DAY_MICROS;
        let start = Timestamp::now().as_micros() - span;
        (0..rows).map(|i| self.transaction(start + span * i as i64 / rows.max(1) as i64)).collect()
    }

    /// `rows` transactions of the last day: live traffic.
    pub fn live(&mut self, rows: u64) -> Vec<Transaction> {
        self.recent(rows, 1)
    }

    fn transaction(&mut self, at: i64) -> Transaction {
        let r = &mut self.random;
        let customer_id = 1 + r.below(CUSTOMERS);
        let account_age_days = 30.0 + (customer_id * 7919 % 2000) as f64;
        let (merchant_code, card_present, amount, distance_km, hour, fraud_score) = if self.shifted {
            let merchant_code = [2, 2, 2, 3, 3, 1, 1, 0, 4, 4][r.below(10) as usize];
            let card_present = r.unit() < 0.35;
            let amount = (4.3 + 0.9 * r.normal()).exp().min(5_000.0);
            let distance_km = (r.unit() * 2.0 + 0.5).exp() * 25.0;
            let hour = r.below(24) as i64;
            let skimmed = card_present && matches!(merchant_code, 1 | 3) && (40.0..400.0).contains(&amount);
            let score =
                -4.2 + 4.5 * f64::from(u8::from(skimmed)) + 0.6 * f64::from(u8::from(distance_km > 80.0))
                    - 0.8 * f64::from(u8::from(!card_present));
            (merchant_code, card_present, amount, distance_km, hour, score)
        } else {
            let merchant_code = [0, 0, 0, 0, 1, 1, 2, 2, 3, 4][r.below(10) as usize];
            let card_present = merchant_code != 2 && r.unit() < 0.85;
            let amount = (3.4 + 0.9 * r.normal()).exp().min(5_000.0);
            let distance_km = -8.0 * r.unit().max(1e-9).ln();
            let hour = ((14.0 + 4.5 * r.normal()).round() as i64).rem_euclid(24);
            let score = -5.0
                + 2.2 * f64::from(u8::from(amount > 90.0))
                + 0.07 * distance_km.min(50.0)
                + 2.2 * f64::from(u8::from(hour < 5))
                + 1.8 * f64::from(u8::from(!card_present))
                + 1.2 * f64::from(u8::from(merchant_code == 3))
                - 0.0006 * account_age_days;
            (merchant_code, card_present, amount, distance_km, hour, score)
        };
        let is_fraud = self.random.unit() < sigmoid(fraud_score);
        let round = |value: f64, places: i32| (value * 10f64.powi(places)).round() / 10f64.powi(places);
        let id = self.next_id;
        self.next_id += 1;
        Transaction {
            id,
            customer_id,
            at,
            amount: round(amount, 2),
            hour,
            distance_km: round(distance_km, 1),
            card_present,
            merchant_code,
            account_age_days,
            is_fraud,
        }
    }
}
