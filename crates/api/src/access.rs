//! Authorisation at the door: who may call each route, checked before any handler runs.
//!
//! Invariants:
//! - The router is built from the same table entries as [`crate::RULES`] (see `routes!` in
//!   lib.rs), so every route and method a handler answers has exactly one rule; a method
//!   without a rule never reaches a handler (405).
//! - [`authorise`] reads only the request's head (route, path parameters, `Authorization`, peer
//!   address): a request it refuses is answered without its body being read, so a caller
//!   without the right cannot make the node buffer or decode anything.
//! - A token is authenticated once per request: the principal goes into the request's
//!   extensions, where the `Caller` extractor finds it.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::RequestExt;
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use switchyard_engine::{ErrorCode, Principal, parse_space};
use switchyard_model::Permission;
use switchyard_model::permissions::{METRICS_READ, QUOTAS_WRITE};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Authenticated, ClientCertificate, bearer};
use axum::http::header::AUTHORIZATION;

/// Who may call a route with a method. The engine decides ([`Engine::authorise`]); the rule
/// names the permission and where the request acts.
///
/// [`Engine::authorise`]: switchyard_engine::Engine::authorise
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Open,
    /// As `--metrics-access` says ([`MetricsAccess`]).
    Metrics,
    /// Any valid token: the engine decides what the route shows or does for it (its own
    /// tokens, the spaces it reaches, each operation of a batch).
    Token,
    /// A token holding this permission somewhere: the route names its patterns in the body,
    /// which the engine checks once it is read.
    Somewhere(Permission),
    /// A token holding this permission on the system address (a grant on `*`).
    System(Permission),
    /// A token holding this permission on the request's address ([`request_address`]): its
    /// `{space}`, the family of its resource, then the resource's names
    /// (`acme:machines:order:o-1` for an instance).
    Space(Permission),
    /// A token holding this permission on every address of every project of the request's
    /// `{org}` (`org/*:*`): an org's admin.
    Org(Permission),
    /// A token holding this permission on the whole space (its address is the space alone): a
    /// definition that can reach anything in the space once it runs (a machine, flow,
    /// trigger, subscription, endpoint, function, job, env value or secret) needs the space,
    /// not just its own name.
    SpaceWide(Permission),
}

/// The address a space route acts on, from its template and its path parameters' values in
/// order (`{space}` first): the space, then — for a route under a resource family — the
/// family's segment and the resource's names. `/v1/spaces/{space}/machines/{name}/instances/{id}`
/// with `acme, order, o-1` is `acme:machines:order:o-1`; `/v1/spaces/{space}/kv` is
/// `acme:kv`; the space's own routes (`stats`, `watch`, the space) are `acme`. Putting the
/// family in the address keeps a grant on one kind of resource from reaching another of the
/// same name.
pub fn request_address<'a>(route: &'a str, values: &[&'a str]) -> Vec<&'a str> {
    let mut address = Vec::with_capacity(values.len() + 1);
    address.extend(values.first().copied());
    let family = route.strip_prefix("/v1/spaces/{space}/").and_then(|rest| rest.split('/').next());
    match family {
        Some("stats" | "watch") | None => {}
        Some(family) => {
            address.push(family);
            address.extend(values.iter().skip(1).copied());
        }
    }
    address
}

/// An HTTP method a route can be registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (and HEAD, which axum answers with the GET handler).
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Verb {
    /// The verb a request's method is routed as; `None` for methods no route takes.
    pub fn of(method: &Method) -> Option<Verb> {
        match *method {
            Method::GET | Method::HEAD => Some(Verb::Get),
            Method::PUT => Some(Verb::Put),
            Method::POST => Some(Verb::Post),
            Method::DELETE => Some(Verb::Delete),
            _ => None,
        }
    }

    /// The router's filter for this verb.
    pub fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Put => MethodFilter::PUT,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One route and method and who may call it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The route template, as registered.
    pub route: &'static str,
    /// The method.
    pub verb: Verb,
    /// Who may call it.
    pub access: Access,
}

/// Who may read `/metrics` (`serve --metrics-access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// Without a token from a loopback address, with any valid token from elsewhere.
    #[default]
    Auto,
    /// Anyone, without a token.
    Public,
    /// Any valid token.
    Token,
    /// An admin token granted every space (`*`): the node's operator, not a tenant.
    Admin,
}

impl MetricsAccess {
    /// The names `--metrics-access` takes, in the order the help lists them.
    pub const NAMES: &'static [&'static str] = &["auto", "public", "token", "admin"];
}

impl FromStr for MetricsAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(MetricsAccess::Auto),
            "public" => Ok(MetricsAccess::Public),
            "token" => Ok(MetricsAccess::Token),
            "admin" => Ok(MetricsAccess::Admin),
            other => Err(format!(
                "\"{other}\" is not a metrics access mode; expected one of {}",
                MetricsAccess::NAMES.join(", ")
            )),
        }
    }
}

/// The rule for a route template and request method, if the route takes that method.
pub fn rule_for(route: &str, method: &Method) -> Option<&'static Rule> {
    let verb = Verb::of(method)?;
    crate::RULES.iter().find(|r| r.route == route && r.verb == verb)
}

/// Middleware (on every route) answering 401/403 before a handler, and so the body, is touched;
/// an admitted request to a space's route then runs noting whether it created its space
/// ([`crate::spaces::run_noting_space_creation`]). One layer for both, so a request extracts
/// its path parameters once.
pub async fn authorise(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match check(&state, &mut req).await {
        Ok(Some(space)) => crate::spaces::run_noting_space_creation(space, req, next).await,
        Ok(None) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Checks the caller may make `req`; for a route of a space (every `/v1/spaces/{space}…`
/// route, a unit test keeps it so), answers that space as the request named it.
async fn check(state: &AppState, req: &mut Request) -> Result<Option<String>, ApiError> {
    let rule = req.extensions().get::<MatchedPath>().and_then(|route| rule_for(route.as_str(), req.method()));
    // Fail closed: a route and method without a rule has no handler either (both come from one
    // table entry), so this is the answer the router would give.
    let Some(rule) = rule else {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this route does not take that method; see /v1/openapi.json",
        ));
    };
    match rule.access {
        Access::Open => Ok(None),
        Access::Metrics => match state.config.metrics_access {
            MetricsAccess::Public => Ok(None),
            MetricsAccess::Auto if from_loopback(req) => Ok(None),
            MetricsAccess::Auto | MetricsAccess::Token => authenticate(state, req).await.map(|_| None),
            MetricsAccess::Admin => {
                let principal = authenticate(state, req).await?;
                state.engine.authorise(&principal, METRICS_READ, NO_SEGMENTS)?;
                Ok(None)
            }
        },
        Access::Token => authenticate(state, req).await.map(|_| None),
        Access::Somewhere(permission) => {
            authenticate(state, req).await?.require_somewhere(permission)?;
            Ok(None)
        }
        Access::System(permission) => {
            let principal = authenticate(state, req).await?;
            state.engine.authorise(&principal, permission, NO_SEGMENTS)?;
            Ok(None)
        }
        Access::Org(permission) => {
            let principal = authenticate(state, req).await?;
            let params = req
                .extract_parts::<RawPathParams>()
                .await
                .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid path: {}", e.body_text())))?;
            let Some((_, org)) = params.iter().find(|(name, _)| *name == "org") else {
                return Err(ApiError::new(ErrorCode::Forbidden, "this route has no org to authorise"));
            };
            state.engine.authorise_org(&principal, permission, org)?;
            Ok(None)
        }
        Access::Space(permission) | Access::SpaceWide(permission) => {
            let principal = authenticate(state, req).await?;
            let params = req
                .extract_parts::<RawPathParams>()
                .await
                .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid path: {}", e.body_text())))?;
            let space = params.iter().find(|(name, _)| *name == "space").map(|(_, value)| value);
            let Some(space) = space else {
                // A table entry names a route without `{space}` as space-scoped: refuse rather
                // than guess (a unit test keeps the table from doing so).
                return Err(ApiError::new(ErrorCode::Forbidden, "this route has no space to authorise"));
            };
            parse_space(space)?;
            // `{space}` comes first in every such route (a unit test keeps it so).
            let values: Vec<&str> = params.iter().map(|(_, value)| value).collect();
            let address = match rule.access {
                Access::SpaceWide(_) => vec![space],
                _ => request_address(rule.route, &values),
            };
            state.engine.authorise(&principal, permission, &address)?;
            // Changing a quota is never paced, so an operator can always change one.
            if permission != QUOTAS_WRITE {
                state.engine.admit_request(space)?;
            }
            Ok(Some(space.to_owned()))
        }
    }
}

/// The system address: no segment.
const NO_SEGMENTS: &[&str] = &[];

/// Authenticates the bearer token — or, without one, the connection's verified client
/// certificate — and keeps the principal for the handler.
async fn authenticate(state: &AppState, req: &mut Request) -> Result<Arc<Principal>, ApiError> {
    let certificate =
        req.extensions().get::<ClientCertificate>().filter(|_| !req.headers().contains_key(AUTHORIZATION));
    let principal = match certificate {
        Some(certificate) => state.engine.authenticate_certificate(&certificate.subject).await?,
        None => state.engine.authenticate(bearer(req.headers())?).await?,
    };
    req.extensions_mut().insert(Authenticated(principal.clone()));
    Ok(principal)
}

/// Whether the connection comes from this machine; unknown (no peer address recorded by the
/// server) counts as not.
fn from_loopback(req: &Request) -> bool {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_has_a_rule_and_every_rule_a_route() {
        for route in crate::ROUTES {
            assert!(crate::RULES.iter().any(|r| r.route == *route), "{route} has no authorisation rule");
        }
        let mut seen = HashSet::new();
        for rule in crate::RULES {
            assert!(crate::ROUTES.contains(&rule.route), "{} is not a route", rule.route);
            assert!(seen.insert((rule.route, rule.verb as u8)), "{} {:?} has two rules", rule.route, rule.verb);
        }
    }

    #[test]
    fn org_rules_are_on_routes_of_an_org() {
        for rule in crate::RULES {
            if matches!(rule.access, Access::Org(_)) {
                assert!(rule.route.starts_with("/v1/orgs/{org}"), "{} {:?}", rule.route, rule.verb);
            }
        }
    }

    #[test]
    fn space_rules_are_on_routes_with_a_space_first() {
        for rule in crate::RULES {
            let scoped = rule.route.starts_with("/v1/spaces/{space}");
            let space_access = matches!(rule.access, Access::Space(_) | Access::SpaceWide(_));
            assert_eq!(space_access, scoped, "{} {:?}", rule.route, rule.verb);
            if scoped {
                assert_eq!(rule.route.find('{'), Some("/v1/spaces/".len()), "{}", rule.route);
            }
        }
    }

    #[test]
    fn reads_need_a_read_permission_and_writes_another() {
        for rule in crate::RULES {
            if let Access::Space(p) | Access::SpaceWide(p) | Access::System(p) | Access::Somewhere(p) = rule.access {
                let read = p.level == switchyard_model::Level::Read
                    || (p.level == switchyard_model::Level::System && p.action == "read")
                    || (p.level == switchyard_model::Level::Admin && p.action == "read");
                assert_eq!(rule.verb == Verb::Get, read, "{} {:?} needs {p}", rule.route, rule.verb);
            }
        }
    }

    #[test]
    fn only_the_operations_routes_and_the_webhook_receiver_are_open() {
        let open: Vec<&str> = crate::RULES
            .iter()
            .filter(|r| matches!(r.access, Access::Open | Access::Metrics))
            .map(|r| r.route)
            .collect();
        // A webhook carries no token: its trigger's signature scheme is the credential.
        // Signing in takes a name and password, not a token.
        assert_eq!(
            open,
            ["/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/v1/auth/sign-in", "/hooks/{space}/{trigger}"]
        );
    }

    #[test]
    fn methods_route_to_rules() {
        assert!(rule_for("/v1/tokens", &Method::POST).is_some());
        assert_eq!(rule_for("/v1/tokens", &Method::HEAD).map(|r| r.verb), Some(Verb::Get));
        assert!(rule_for("/v1/tokens", &Method::PATCH).is_none());
        assert!(rule_for("/v1/batch", &Method::GET).is_none());
        let deploy = rule_for("/v1/spaces/{space}/functions/{name}", &Method::PUT).map(|r| r.access);
        assert_eq!(deploy, Some(Access::SpaceWide(switchyard_model::permissions::FUNCTIONS_DEPLOY)));
    }

    #[test]
    fn addresses_name_the_family_then_the_resource() {
        let instance = "/v1/spaces/{space}/machines/{name}/instances/{id}";
        assert_eq!(request_address(instance, &["acme", "order", "o-1"]), ["acme", "machines", "order", "o-1"]);
        assert_eq!(request_address("/v1/spaces/{space}/kv", &["acme"]), ["acme", "kv"]);
        let key = "/v1/spaces/{space}/kv/{bucket}/keys/{*key}";
        assert_eq!(request_address(key, &["acme", "config", "db/url"]), ["acme", "kv", "config", "db/url"]);
        assert_eq!(
            request_address("/v1/spaces/{space}/functions/{name}/invoke", &["acme", "f"]),
            ["acme", "functions", "f"]
        );
        for space_route in ["/v1/spaces/{space}", "/v1/spaces/{space}/stats", "/v1/spaces/{space}/watch/ws"] {
            assert_eq!(request_address(space_route, &["acme"]), ["acme"], "{space_route}");
        }
    }

    #[test]
    fn definitions_that_reach_the_space_need_the_space() {
        // What a definition can do once it runs is not bounded by its own name.
        for (route, verb) in [
            ("/v1/spaces/{space}/machines/{name}", Verb::Put),
            ("/v1/spaces/{space}/flows/{name}", Verb::Put),
            ("/v1/spaces/{space}/triggers/{name}", Verb::Put),
            ("/v1/spaces/{space}/subscriptions/{name}", Verb::Put),
            ("/v1/spaces/{space}/endpoints/{name}", Verb::Put),
            ("/v1/spaces/{space}/functions/{name}", Verb::Put),
            ("/v1/spaces/{space}/jobs", Verb::Post),
            ("/v1/spaces/{space}/env/{name}", Verb::Put),
            ("/v1/spaces/{space}/secrets/{name}", Verb::Put),
        ] {
            let rule = crate::RULES.iter().find(|r| r.route == route && r.verb == verb).expect("a rule");
            assert!(matches!(rule.access, Access::SpaceWide(_)), "{route} {verb:?}");
        }
    }

    #[test]
    fn metrics_access_parses_its_names_only() {
        for name in MetricsAccess::NAMES {
            assert!(name.parse::<MetricsAccess>().is_ok(), "{name}");
        }
        let err = "loopback".parse::<MetricsAccess>().expect_err("unknown mode");
        assert!(err.contains("auto, public, token, admin"), "{err}");
    }
}
