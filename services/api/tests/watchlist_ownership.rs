//! Who may own a watchlist entry (issue 16.7): an entry belongs to a zone
//! and matches only within it, so commune police add entries of their
//! commune (or one of its villages), and an entry of the whole province is
//! an explicit choice of a province operator.

mod common;

use common::Fixture;
use tonic::Code;
use vigil_proto::v1::AddWatchlistEntryRequest;
use vigil_proto::v1::registry_service_client::RegistryServiceClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn entries_are_owned_by_a_zone_in_the_callers_scope() -> anyhow::Result<()> {
    let fx = Fixture::start("api_wl_owner").await?;
    let mut registry = RegistryServiceClient::new(fx.channel.clone());
    let add = |who: &str, owner_zone_id: &str, province_wide: bool| {
        fx.request(
            who,
            AddWatchlistEntryRequest {
                plate: "36C-777.77".into(),
                reason: "stolen motorbike".into(),
                owner_zone_id: owner_zone_id.into(),
                province_wide,
                ..AddWatchlistEntryRequest::default()
            },
        )
    };

    // Commune police: their commune by default, or one of its villages.
    let entry = registry
        .add_watchlist_entry(add("police_a", "", false))
        .await?
        .into_inner();
    assert_eq!(entry.owner_zone_id, fx.commune_a);
    let entry = registry
        .add_watchlist_entry(add("police_a", &fx.village_a, false))
        .await?
        .into_inner();
    assert_eq!(entry.owner_zone_id, fx.village_a);
    // Never another commune, nor the province.
    for (owner, province_wide) in [(fx.commune_b.as_str(), false), ("th", false), ("", true)] {
        let status = registry
            .add_watchlist_entry(add("police_a", owner, province_wide))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{owner:?} {province_wide}: {status:?}"
        );
    }

    // A province operator asks for a province-wide entry explicitly ...
    let entry = registry
        .add_watchlist_entry(add("operator", "", true))
        .await?
        .into_inner();
    assert_eq!(entry.owner_zone_id, "th");
    let entry = registry
        .add_watchlist_entry(add("operator", &fx.commune_b, false))
        .await?
        .into_inner();
    assert_eq!(entry.owner_zone_id, fx.commune_b);
    // ... and never gets one by default (the token's scope is the province).
    for (owner, province_wide) in [("", false), ("th", false), (fx.commune_b.as_str(), true)] {
        let status = registry
            .add_watchlist_entry(add("operator", owner, province_wide))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{owner:?} {province_wide}: {status:?}"
        );
        assert!(
            status.message().starts_with("owner_zone_id:"),
            "{}",
            status.message()
        );
    }
    fx.stop().await
}
