//! Which page or route answers a request: the health route (path or health-checker user agent),
//! `/robots.txt`, a configured path, the invoking target group, or the default page.

use crate::deploy_names::HEALTH_CHECK_USER_AGENT;
use crate::page_kind::PageKind;
use crate::respond::request::Request;
use crate::site::Site;

/// Chooses the page or route for a request.
///
/// Order: health (the health path, or an ELB health-checker user agent) for `GET`/`HEAD`;
/// `/robots.txt` for `GET`/`HEAD`; a configured path; the invoking target group; the default.
pub fn select_page(request: &Request, site: &Site) -> PageKind {
    let config = &site.config;
    if request.is_get_or_head() {
        let health_agent = request
            .header_values("user-agent")
            .any(|ua| ua == HEALTH_CHECK_USER_AGENT || ua.starts_with("ELB-HealthChecker/"));
        if health_agent || request.path == config.health_path {
            return PageKind::Health;
        }
        if request.path == "/robots.txt" {
            return PageKind::Robots;
        }
    }
    let by_path = config.paths.iter().find_map(|(pattern, page)| {
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => request.path.starts_with(prefix),
            None => request.path == *pattern,
        };
        hit.then_some(*page)
    });
    if let Some(page) = by_path {
        return page;
    }
    if let Some(arn) = request.target_group_arn.as_deref() {
        let name = target_group_name(arn);
        let by_group = config
            .target_groups
            .iter()
            .find(|(key, _)| key.as_str() == arn || Some(key.as_str()) == name);
        if let Some((_, page)) = by_group {
            return *page;
        }
    }
    config.default_page
}

/// The name in `arn:…:targetgroup/NAME/ID`.
fn target_group_name(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":targetgroup/")?.1;
    rest.split('/').next().filter(|name| !name.is_empty())
}
