//! The source form of what a state does: an action (`invoke` with `on_done`/`on_error`), timers
//! (`after`, `after_expr`), a `wait`, and fire-and-forget `on_entry`/`on_exit` effects.
//!
//! These are shapes only; [`super::compile`] checks their meaning (states that exist, CEL that
//! type-checks, durations in range) and reports every problem with its field path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::jobs::RetryPolicy;
use crate::jobs::millis;

/// What an action state invokes on entry: exactly one of `function`, `http`, `publish`, `send`
/// or `machine`, with the input and the attempt settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an invoke spec (a map with one of function, http, publish, send, machine)")]
pub struct InvokeSpec {
    /// A deployed function: `name`, `space:name` or `space:name:version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The function version to pin (instead of `space:name:version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// An outgoing HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSpec>,
    /// A message published to a topic of the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishSpec>,
    /// An event sent to another instance of the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<SendSpec>,
    /// A child instance of a machine (`name` or `space:name`), waited for until it is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// CEL: the function's input, or the child's initial context (`{}` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Longest one attempt may take.
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// How failed attempts are retried (the jobs' default policy when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// With `machine`: CEL producing a list; one child per element, whose `input` sees the
    /// element as `item` and its position as `index`. The result is the list of the children's
    /// final contexts in the list's order (`null` for one that did not complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// With `for_each`: at most this many children run at once (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// With `for_each`: how many children must complete: `all` (the default), `any`, or a
    /// number. Once that many have, the others are cancelled; once it cannot happen, the
    /// invoke fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Join>,
    /// With `for_each`: the keys of each child's final context the result keeps (every key
    /// when empty), so a parent of many children reads only what it needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collect: Vec<String>,
}

/// How many of a fan-out's children must complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Every one.
    All,
    /// The first to complete.
    Any,
    /// The first this many to complete.
    First(u32),
}

impl Join {
    /// How many of `total` children must complete.
    pub fn needed(self, total: usize) -> usize {
        match self {
            Join::All => total,
            Join::Any => total.min(1),
            Join::First(n) => (n as usize).min(total),
        }
    }
}

impl Serialize for Join {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Join::All => serializer.serialize_str("all"),
            Join::Any => serializer.serialize_str("any"),
            Join::First(n) => serializer.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Join {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JoinVisitor;

        impl Visitor<'_> for JoinVisitor {
            type Value = Join;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all`, `any` or a number of children")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Join, E> {
                match v {
                    "all" => Ok(Join::All),
                    "any" => Ok(Join::Any),
                    other => Err(E::custom(format!("{other:?}: expected `all`, `any` or a number of children"))),
                }
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Join, E> {
                u32::try_from(v).map(Join::First).map_err(|_| E::custom("too many children"))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Join, E> {
                u32::try_from(v).map(Join::First).map_err(|_| E::custom("a join is a positive number of children"))
            }
        }

        deserializer.deserialize_any(JoinVisitor)
    }
}

/// An HTTP request built from CEL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an http spec (a map with url and optional method, headers, body)")]
pub struct HttpSpec {
    /// `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// CEL producing the URL (a string).
    pub url: String,
    /// Header name to CEL producing its value (a string).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// CEL producing the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Header name to a secret template (`"Bearer {{secrets.api_token}}"`): literal text, not
    /// CEL, resolved only when the request is sent, so the secret is never in a payload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_headers: BTreeMap<String, String>,
}

/// A message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a publish spec (a map with topic and message)")]
pub struct PublishSpec {
    /// The topic, a name in the instance's space.
    pub topic: String,
    /// CEL producing the message.
    pub message: String,
    /// CEL producing the message key (a string), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An event to send to an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a send spec (a map with instance, event and optional payload)")]
pub struct SendSpec {
    /// CEL producing the instance, `machine:id` in the same space.
    pub instance: String,
    /// The event's name.
    pub event: String,
    /// CEL producing the payload (a map; `{}` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A fire-and-forget effect of `on_entry` or `on_exit`: exactly one of `publish` or `send`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an effect (a map with publish or send)")]
pub struct EffectSpec {
    /// Publish a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishSpec>,
    /// Send an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<SendSpec>,
}

/// Where an action's result (or error) leads: the first branch whose `when` passes is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an outcome (a map with to and optional when, assign)")]
pub struct OutcomeSpec {
    /// CEL guard over `ctx`, `state`, `instance` and `result` (on_done) or `error` (on_error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The state to go to.
    pub to: String,
    /// CEL assignments `ctx key -> expression`; without it ctx is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<BTreeMap<String, String>>,
}

/// `on_done` / `on_error`: one outcome or a list of them, tried in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes(pub Vec<OutcomeSpec>);

/// A state that waits for an outside event, with an optional timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a wait spec (a map with event and optional timeout, on_timeout)")]
pub struct WaitSpec {
    /// The event (or events) the state waits for; each needs a transition from this state.
    pub event: EventNames,
    /// How long to wait.
    #[serde(default, with = "millis::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// The state to go to when the timeout passes (required with `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<String>,
}

/// One event name or a list of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventNames(pub Vec<String>);

/// The machine-wide timeout: the instance goes to `to` if it has not reached a final state
/// `after` its creation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a timeout (a map with after and to)")]
pub struct MachineTimeout {
    /// How long after creation.
    #[serde(with = "millis")]
    pub after: u64,
    /// The state to go to.
    pub to: String,
}

impl Serialize for Outcomes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for outcome in &self.0 {
            seq.serialize_element(outcome)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Outcomes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OutcomesVisitor;

        impl<'de> Visitor<'de> for OutcomesVisitor {
            type Value = Outcomes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an outcome `{ to: state }` or a list of them")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Outcomes, A::Error> {
                let one = OutcomeSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Outcomes(vec![one]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcomes, A::Error> {
                let mut all = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(outcome) = seq.next_element::<OutcomeSpec>()? {
                    all.push(outcome);
                }
                Ok(Outcomes(all))
            }
        }

        deserializer.deserialize_any(OutcomesVisitor)
    }
}

impl Serialize for EventNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for name in &self.0 {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for EventNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;

        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = EventNames;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event name or a list of event names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<EventNames, E> {
                Ok(EventNames(vec![v.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventNames, A::Error> {
                let mut all = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(name) = seq.next_element::<String>()? {
                    all.push(name);
                }
                Ok(EventNames(all))
            }
        }

        deserializer.deserialize_any(NamesVisitor)
    }
}
