//! The alert lifecycle, as plain functions over values: an alert is
//! `raised`, `notified` once delivered to its team, `escalated` when nobody
//! acknowledged it in time, `acknowledged` by a person, and `closed` with an
//! outcome. Every move leaves one [`HistoryEntry`]; [`Lifecycle::apply`]
//! refuses moves out of order, naming the current state (and who got there
//! first, when two people race), so the store only has to make each move
//! conditional on the version it read.

mod stats;

pub use stats::{AckStats, ack_stats};

use std::fmt;

use chrono::{DateTime, Utc};

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Raised,
    Notified,
    Escalated,
    Acknowledged,
    Closed,
}

/// How a closed alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The team went and found what the alert said.
    Confirmed,
    /// Nothing was there (a misread plate, a shadow).
    FalsePositive,
    /// Real, but nothing needed doing.
    NoAction,
    /// Another alert covers the same thing.
    Duplicate,
}

/// Longest note a person may attach, in characters.
pub const MAX_NOTE_CHARS: usize = 512;
/// Most history entries one alert keeps; notes beyond are refused.
pub const MAX_HISTORY: usize = 200;

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in lifecycle order.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];

            /// The stored and displayed name, e.g. `acknowledged`.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }

            /// The value named `name` (as [`Self::as_str`] spells it).
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(<$ty>::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(State {
    Raised => "raised",
    Notified => "notified",
    Escalated => "escalated",
    Acknowledged => "acknowledged",
    Closed => "closed",
});

names!(Outcome {
    Confirmed => "confirmed",
    FalsePositive => "false_positive",
    NoAction => "no_action",
    Duplicate => "duplicate",
});

impl State {
    /// Not closed yet.
    pub fn is_open(self) -> bool {
        self != State::Closed
    }
}

/// Who made a move: a person (token name and role) or a Vigil component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: String,
}

impl Actor {
    /// A Vigil component (the notifier delivering or escalating).
    pub fn system(component: &str) -> Self {
        Self {
            name: component.to_owned(),
            role: "system".to_owned(),
        }
    }
}

/// A move someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delivered to the team (system).
    Notify,
    /// Escalated to the next level (system): 1 = commune police,
    /// 2 = province operations center.
    Escalate { level: u8 },
    /// A person takes the alert.
    Acknowledge,
    /// Handed to a member of the responsible team.
    Assign { member: String },
    /// A remark; changes nothing else.
    Note,
    /// Done, with how it ended.
    Close { outcome: Outcome },
}

impl Action {
    /// Short name for messages and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Escalate { .. } => "escalate",
            Action::Acknowledge => "acknowledge",
            Action::Assign { .. } => "assign",
            Action::Note => "note",
            Action::Close { .. } => "close",
        }
    }
}

/// Who did something, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One move in an alert's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// [`Action::name`], or `raise`.
    pub action: String,
    pub from: State,
    pub to: State,
    /// The note, the assignee or the outcome, when the move has one.
    pub detail: String,
}

/// An alert's current state and what got it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: State,
    /// Bumped by every move; the store makes each move conditional on it.
    pub version: u32,
    pub acknowledged: Option<Stamp>,
    pub closed: Option<Stamp>,
    pub outcome: Option<Outcome>,
    pub assignee: Option<String>,
    /// 0 until escalated; then the level reached.
    pub escalation_level: u8,
    /// History entries so far.
    pub history_len: usize,
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("already acknowledged by {} at {}", .0.by, .0.at.to_rfc3339())]
    AlreadyAcknowledged(Stamp),
    #[error("already closed ({outcome}) by {} at {}", .stamp.by, .stamp.at.to_rfc3339())]
    AlreadyClosed { stamp: Stamp, outcome: Outcome },
    #[error("cannot {action} an alert that is {current}{hint}")]
    OutOfOrder {
        action: &'static str,
        current: State,
        hint: &'static str,
    },
    #[error("the note must not be empty and at most {MAX_NOTE_CHARS} characters")]
    BadNote,
    #[error("the alert's history is full ({MAX_HISTORY} entries)")]
    HistoryFull,
}

impl Lifecycle {
    /// A freshly raised alert (its first history entry is the raise).
    pub fn raised() -> Self {
        Self {
            state: State::Raised,
            version: 1,
            acknowledged: None,
            closed: None,
            outcome: None,
            assignee: None,
            escalation_level: 0,
            history_len: 1,
        }
    }

    /// The history entry a raise leaves.
    pub fn raise_entry(at: DateTime<Utc>, actor: Actor) -> HistoryEntry {
        HistoryEntry {
            at,
            actor,
            action: "raise".to_owned(),
            from: State::Raised,
            to: State::Raised,
            detail: String::new(),
        }
    }

    /// The lifecycle after `action` by `actor` at `at`, and the history
    /// entry it leaves; or why it may not happen now. `note` goes with any
    /// move (it is required for [`Action::Note`]).
    pub fn apply(
        &self,
        action: &Action,
        actor: &Actor,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<(Lifecycle, HistoryEntry), Refusal> {
        if note.chars().count() > MAX_NOTE_CHARS
            || (matches!(action, Action::Note) && note.trim().is_empty())
        {
            return Err(Refusal::BadNote);
        }
        if self.history_len >= MAX_HISTORY {
            return Err(Refusal::HistoryFull);
        }
        let out_of_order = |hint| Refusal::OutOfOrder {
            action: action.name(),
            current: self.state,
            hint,
        };
        if let (State::Closed, Some(stamp), Some(outcome)) =
            (self.state, &self.closed, self.outcome)
            && !matches!(action, Action::Note)
        {
            return Err(Refusal::AlreadyClosed {
                stamp: stamp.clone(),
                outcome,
            });
        }
        let mut next = self.clone();
        let stamp = Stamp {
            by: actor.name.clone(),
            at,
        };
        let mut detail = note.to_owned();
        match action {
            Action::Notify => match self.state {
                State::Raised => next.state = State::Notified,
                _ => return Err(out_of_order("")),
            },
            Action::Escalate { level } => match self.state {
                State::Raised | State::Notified | State::Escalated
                    if *level > self.escalation_level =>
                {
                    next.state = State::Escalated;
                    next.escalation_level = *level;
                    detail = format!("level {level}");
                }
                _ => return Err(out_of_order("")),
            },
            Action::Acknowledge => match (&self.acknowledged, self.state) {
                (Some(first), _) => return Err(Refusal::AlreadyAcknowledged(first.clone())),
                (None, State::Raised | State::Notified | State::Escalated) => {
                    next.state = State::Acknowledged;
                    next.acknowledged = Some(stamp);
                }
                _ => return Err(out_of_order("")),
            },
            Action::Assign { member } => {
                next.assignee = Some(member.clone());
                detail = member.clone();
            }
            Action::Note => {}
            Action::Close { outcome } => match self.state {
                State::Acknowledged => {
                    next.state = State::Closed;
                    next.closed = Some(stamp);
                    next.outcome = Some(*outcome);
                    detail = if note.is_empty() {
                        outcome.to_string()
                    } else {
                        format!("{outcome}: {note}")
                    };
                }
                _ => return Err(out_of_order("; acknowledge it first")),
            },
        }
        next.version = self.version + 1;
        next.history_len = self.history_len + 1;
        let entry = HistoryEntry {
            at,
            actor: actor.clone(),
            action: action.name().to_owned(),
            from: self.state,
            to: next.state,
            detail,
        };
        Ok((next, entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str) -> Actor {
        Actor {
            name: name.into(),
            role: "team_captain".into(),
        }
    }

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + second, 0).unwrap()
    }

    fn step(life: &Lifecycle, action: Action, who: &str, second: i64) -> Lifecycle {
        life.apply(&action, &person(who), at(second), "").unwrap().0
    }

    #[test]
    fn an_alert_goes_from_raised_to_closed_leaving_a_history() {
        let raised = Lifecycle::raised();
        let notified = step(&raised, Action::Notify, "notifier", 1);
        let (acked, entry) = notified
            .apply(&Action::Acknowledge, &person("lan"), at(30), "on my way")
            .unwrap();
        assert_eq!(
            (entry.from, entry.to, entry.detail.as_str()),
            (State::Notified, State::Acknowledged, "on my way")
        );
        let assigned = step(
            &acked,
            Action::Assign {
                member: "m-7".into(),
            },
            "lan",
            40,
        );
        assert_eq!(assigned.state, State::Acknowledged);
        let (closed, entry) = assigned
            .apply(
                &Action::Close {
                    outcome: Outcome::Confirmed,
                },
                &person("lan"),
                at(900),
                "plate confirmed, handed to police",
            )
            .unwrap();
        assert_eq!(closed.state, State::Closed);
        assert_eq!(closed.outcome, Some(Outcome::Confirmed));
        assert_eq!(closed.assignee.as_deref(), Some("m-7"));
        assert_eq!(entry.detail, "confirmed: plate confirmed, handed to police");
        assert_eq!((closed.version, closed.history_len), (5, 5));
        // Notes still go on a closed alert; nothing else does.
        assert!(
            closed
                .apply(&Action::Note, &person("x"), at(901), "follow-up")
                .is_ok()
        );
    }

    #[test]
    fn the_second_to_acknowledge_learns_who_was_first() {
        let acked = step(&Lifecycle::raised(), Action::Acknowledge, "lan", 10);
        let refusal = acked
            .apply(&Action::Acknowledge, &person("minh"), at(11), "")
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            format!("already acknowledged by lan at {}", at(10).to_rfc3339())
        );
        let closed = step(
            &acked,
            Action::Close {
                outcome: Outcome::Duplicate,
            },
            "lan",
            20,
        );
        let refusal = closed
            .apply(
                &Action::Close {
                    outcome: Outcome::NoAction,
                },
                &person("minh"),
                at(21),
                "",
            )
            .unwrap_err();
        assert!(
            refusal
                .to_string()
                .starts_with("already closed (duplicate) by lan at "),
            "{refusal}"
        );
    }

    #[test]
    fn moves_out_of_order_name_the_current_state() {
        let raised = Lifecycle::raised();
        let close = Action::Close {
            outcome: Outcome::Confirmed,
        };
        assert_eq!(
            raised
                .apply(&close, &person("a"), at(1), "")
                .unwrap_err()
                .to_string(),
            "cannot close an alert that is raised; acknowledge it first"
        );
        let acked = step(&raised, Action::Acknowledge, "a", 1);
        assert_eq!(
            acked
                .apply(&Action::Notify, &person("n"), at(2), "")
                .unwrap_err()
                .to_string(),
            "cannot notify an alert that is acknowledged"
        );
        assert!(matches!(
            acked.apply(&Action::Escalate { level: 1 }, &person("n"), at(2), ""),
            Err(Refusal::OutOfOrder { .. })
        ));
    }

    #[test]
    fn escalation_only_climbs() {
        let first = step(
            &Lifecycle::raised(),
            Action::Escalate { level: 1 },
            "n",
            300,
        );
        assert_eq!((first.state, first.escalation_level), (State::Escalated, 1));
        assert!(
            first
                .apply(&Action::Escalate { level: 1 }, &person("n"), at(301), "")
                .is_err(),
            "the same level fires once"
        );
        let second = step(&first, Action::Escalate { level: 2 }, "n", 900);
        assert_eq!(second.escalation_level, 2);
        // An escalated alert can still be taken.
        assert_eq!(
            step(&second, Action::Acknowledge, "p", 901).state,
            State::Acknowledged
        );
    }

    #[test]
    fn notes_are_bounded_and_the_history_too() {
        let raised = Lifecycle::raised();
        assert_eq!(
            raised.apply(&Action::Note, &person("a"), at(1), " "),
            Err(Refusal::BadNote)
        );
        let long = "ă".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            raised.apply(&Action::Acknowledge, &person("a"), at(1), &long),
            Err(Refusal::BadNote)
        );
        let exact = "ă".repeat(MAX_NOTE_CHARS);
        assert!(
            raised
                .apply(&Action::Note, &person("a"), at(1), &exact)
                .is_ok()
        );
        let full = Lifecycle {
            history_len: MAX_HISTORY,
            ..raised
        };
        assert_eq!(
            full.apply(&Action::Note, &person("a"), at(1), "x"),
            Err(Refusal::HistoryFull)
        );
    }

    #[test]
    fn names_round_trip() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(*state));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        assert_eq!(State::parse("open"), None);
    }

    proptest::proptest! {
        /// Whatever sequence of moves is tried, the version counts the
        /// moves that happened, an acknowledgement is never overwritten,
        /// and a closed alert only takes notes.
        #[test]
        fn any_sequence_keeps_the_invariants(moves in proptest::collection::vec(0u8..7, 0..40)) {
            let mut life = Lifecycle::raised();
            let mut applied = 0u32;
            let mut first_ack: Option<Stamp> = None;
            for (i, m) in moves.iter().enumerate() {
                let action = match m {
                    0 => Action::Notify,
                    1 => Action::Escalate { level: 1 },
                    2 => Action::Escalate { level: 2 },
                    3 => Action::Acknowledge,
                    4 => Action::Assign { member: "m".into() },
                    5 => Action::Note,
                    _ => Action::Close { outcome: Outcome::NoAction },
                };
                let before = life.clone();
                match life.apply(&action, &person("p"), at(i as i64), "n") {
                    Ok((next, entry)) => {
                        proptest::prop_assert_eq!(entry.from, before.state);
                        proptest::prop_assert!(before.state.is_open() || action == Action::Note);
                        life = next;
                        applied += 1;
                    }
                    Err(_) => proptest::prop_assert_eq!(&life, &before),
                }
                if let (None, Some(stamp)) = (&first_ack, &life.acknowledged) {
                    first_ack = Some(stamp.clone());
                }
                proptest::prop_assert_eq!(&life.acknowledged, &first_ack);
                proptest::prop_assert_eq!(life.version, 1 + applied);
            }
        }
    }
}
