//! A fake payment step for workflow demos: it "charges" a card and fails on demand.
//!
//! Input: `{"amount": 1250, "currency": "EUR", "card": "4242…", "fail": …}` where `fail` is
//! optional: `"declined"` (a permanent `card_declined` error), `"unavailable"` (a retryable
//! `processor_unavailable` error), or `{"until_attempt": N}` (retryable failures while the
//! attempt is below N, then success). A card ending in `0002` is always declined. The charge
//! id is derived from the idempotency key (or the invocation id), so a retry of the same
//! charge returns the same id.

use switchyard_guest::{Error, Function, Request, Response, log};

struct ChargeCard;

#[derive(serde::Deserialize)]
struct Input {
    amount: u64,
    #[serde(default = "eur")]
    currency: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    fail: Option<serde_json::Value>,
}

fn eur() -> String {
    "EUR".to_owned()
}

/// FNV-1a: a stable id from the idempotency key, with no dependency.
fn charge_id(seed: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("ch_{hash:016x}")
}

impl Function for ChargeCard {
    fn handle(request: Request) -> Result<Response, Error> {
        let input: Input = request.json()?;
        let attempt = request.context.attempt;
        match input.fail.as_ref() {
            Some(serde_json::Value::String(s)) if s == "declined" => {
                return Err(Error::new("card_declined", "the card was declined"));
            }
            Some(serde_json::Value::String(s)) if s == "unavailable" => {
                return Err(Error::retryable("processor_unavailable", "the payment processor is unavailable"));
            }
            Some(serde_json::Value::Object(o)) => {
                let until = o.get("until_attempt").and_then(|v| v.as_u64()).unwrap_or(0);
                if u64::from(attempt) < until {
                    return Err(Error::retryable(
                        "processor_unavailable",
                        format!("the payment processor is unavailable (attempt {attempt} of at least {until})"),
                    ));
                }
            }
            _ => {}
        }
        if input.card.ends_with("0002") {
            return Err(Error::new("card_declined", "the card was declined"));
        }
        if input.amount == 0 {
            return Err(Error::new("invalid_amount", "the amount must be positive"));
        }
        let seed = request.context.idempotency_key.clone().unwrap_or_else(|| request.context.invocation_id.clone());
        let id = charge_id(&seed);
        log::info(&format!("charged {} {} as {id}", input.amount, input.currency));
        Response::json(&serde_json::json!({
            "charge_id": id,
            "amount": input.amount,
            "currency": input.currency,
            "status": "captured",
            "attempt": attempt,
        }))
    }
}

switchyard_guest::export!(ChargeCard);
