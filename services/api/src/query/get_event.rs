//! GetEvent: one stored event by id, if it lies in the caller's scope.

use uuid::Uuid;
use vigil_domain::Registry;
use vigil_proto::v1::{EnrichedDetection, GetEventRequest, GetEventResponse};

use crate::auth::{Action, Caller};
use crate::backend::{Backend, redact};
use crate::error::{ApiError, ApiResult};

pub(super) async fn serve(
    backend: &Backend,
    caller: &Caller,
    request: GetEventRequest,
) -> ApiResult<GetEventResponse> {
    caller.require(Action::ReadEvents)?;
    let event_id = Uuid::parse_str(&request.event_id)
        .map_err(|e| ApiError::invalid("event_id", format!("not a UUID: {e}")))?;
    let event = backend
        .stores
        .events
        .get(event_id)
        .await?
        .ok_or_else(|| ApiError::unknown("event", event_id))?;
    let event = shown(&backend.registry(), caller, event_id, event)?;
    Ok(GetEventResponse { event: Some(event) })
}

/// The event as `caller` may see it (phone numbers removed for the roles
/// that do not dispatch teams), or, outside the caller's scope, the answer
/// an unknown id gets.
fn shown(
    registry: &Registry,
    caller: &Caller,
    event_id: Uuid,
    mut event: EnrichedDetection,
) -> ApiResult<EnrichedDetection> {
    if !(caller.covers(registry, &event.village_id) || caller.covers(registry, &event.commune_id)) {
        return Err(ApiError::unknown("event", event_id));
    }
    redact(caller, &mut event);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use vigil_proto::v1::{ResponsibleTeam, Role};

    use super::*;
    use crate::query::fixtures;

    fn event(commune_id: &str) -> EnrichedDetection {
        EnrichedDetection {
            commune_id: commune_id.into(),
            team: Some(ResponsibleTeam {
                on_duty_phone: "+84 900 000 000".into(),
                ..ResponsibleTeam::default()
            }),
            ..EnrichedDetection::default()
        }
    }

    #[test]
    fn an_event_outside_the_scope_gets_the_answer_of_an_unknown_one() {
        let registry = fixtures::registry();
        let [(commune_a, _), (commune_b, _)] = fixtures::two_communes(&registry);
        let police_a = fixtures::caller(Role::CommunePolice, &commune_a);
        let error = shown(&registry, &police_a, Uuid::nil(), event(&commune_b)).unwrap_err();
        assert_eq!(
            error.to_string(),
            ApiError::unknown("event", Uuid::nil()).to_string()
        );
        assert!(!error.to_string().contains(&commune_b), "{error}");
        let shown = shown(&registry, &police_a, Uuid::nil(), event(&commune_a)).unwrap();
        assert_eq!(shown.team.unwrap().on_duty_phone, "+84 900 000 000");
    }

    #[test]
    fn a_captain_sees_an_event_of_the_village_without_phone_numbers() {
        let registry = fixtures::registry();
        let camera = registry.cameras().next().unwrap();
        let village = camera.zone_id.clone();
        let commune = registry.commune_of(&village).unwrap().id.clone();
        let captain = fixtures::caller(Role::TeamCaptain, &village);
        let mut in_village = event(&commune);
        in_village.village_id = village;
        let shown = shown(&registry, &captain, Uuid::nil(), in_village).unwrap();
        assert_eq!(shown.team.unwrap().on_duty_phone, "");
        // The commune's other events are not the captain's.
        assert!(super::shown(&registry, &captain, Uuid::nil(), event(&commune)).is_err());
    }
}
