//! Reading listeners through the [`Listeners`] trait: one listener with its rules, their tags
//! and the types of the target groups they forward to ([`read_listener`]), and the listeners a
//! command is about ([`Targets`] resolved by [`select`] into a [`Selection`], with the ones
//! left out and why), and a listener's rules as the planner sees them ([`read_rules`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::listeners::{
    DESCRIBE_TAGS_BATCH, DESCRIBE_TARGET_GROUPS_BATCH, Listeners, ListenersError,
};
use crate::planner::{
    ListenerInfo, ListenerSnapshot, Rule, TargetGroupInfo, environment_name, short_listener,
};

/// Tags of any number of resources, [`DESCRIBE_TAGS_BATCH`] per call.
pub async fn tags_of(
    client: &impl Listeners,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, ListenersError> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(DESCRIBE_TAGS_BATCH) {
        out.extend(client.tags(chunk).await?);
    }
    Ok(out)
}

/// Target groups of any number of ARNs, [`DESCRIBE_TARGET_GROUPS_BATCH`] per call.
pub async fn target_groups_of(
    client: &impl Listeners,
    arns: &[String],
) -> Result<BTreeMap<String, TargetGroupInfo>, ListenersError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(DESCRIBE_TARGET_GROUPS_BATCH) {
        out.extend(client.target_groups(chunk).await?);
    }
    Ok(out)
}

/// Reads a listener, its rules, their tags, and the types of the target groups they forward
/// to. A failure to read the target groups is not an error: the snapshot says why
/// (`target_groups_unread`), and the rules are then recognised by their tags only.
pub async fn read_listener(
    client: &impl Listeners,
    listener: &str,
) -> Result<ListenerSnapshot, ListenersError> {
    let info = client.listener(listener).await?;
    let mut rules = client.rules(listener).await?;
    let arns: Vec<String> = rules
        .iter()
        .filter(|r| !r.is_default())
        .map(|r| r.arn.clone())
        .collect();
    let mut tags = tags_of(client, &arns).await?;
    for rule in &mut rules {
        if let Some(t) = tags.remove(&rule.arn) {
            rule.tags = t;
        }
    }
    let mut snapshot = ListenerSnapshot::new(info, rules);
    match target_groups_of(client, &snapshot.forwarded_target_groups()).await {
        Ok(groups) => snapshot.target_groups = groups,
        Err(e) => snapshot.target_groups_unread = Some(e.to_string()),
    }
    Ok(snapshot)
}

/// How many rules the load balancer of `listener` has on its other listeners, default rules
/// excluded: what counts against the load balancer's rule quota besides the listener's own.
pub async fn rules_elsewhere(
    client: &impl Listeners,
    listener: &ListenerInfo,
) -> Result<usize, ListenersError> {
    let mut count = 0;
    for other in client.listeners(&listener.load_balancer).await? {
        if other.arn != listener.arn {
            count += client
                .rules(&other.arn)
                .await?
                .iter()
                .filter(|r| !r.is_default())
                .count();
        }
    }
    Ok(count)
}

/// Which listeners a command is about.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Listener ARNs named explicitly.
    pub listeners: Vec<String>,
    /// Load balancer ARNs: their listeners with a maintenance rule.
    pub load_balancers: Vec<String>,
    /// Environment name: only maintenance rules tagged with it. Alone, it searches every load
    /// balancer in the region.
    pub environment: Option<String>,
}

impl Targets {
    /// True when nothing was named.
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty() && self.load_balancers.is_empty() && self.environment.is_none()
    }
}

/// A listener left out of a selection, and why. Displayed as one line: `skipped listener
/// NAME: REASON`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Listener ARN.
    pub listener: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "skipped listener {}: {}",
            short_listener(&self.listener),
            self.reason
        )
    }
}

/// The listeners a command acts on.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// Snapshots of the selected listeners.
    pub listeners: Vec<ListenerSnapshot>,
    /// Listeners looked at and left out.
    pub skipped: Vec<Skipped>,
}

/// Resolves [`Targets`] into listener snapshots. Named listeners are always kept (so a missing
/// maintenance rule is reported, not skipped); listeners found through a load balancer or the
/// environment are kept only if they have a maintenance rule (of that environment), tagged or
/// recognised by what it does. With no targets at all, every attached listener in the region
/// is selected.
pub async fn select(
    client: &impl Listeners,
    targets: &Targets,
) -> Result<Selection, ListenersError> {
    if let Some(env) = &targets.environment {
        environment_name(env).map_err(ListenersError::Invalid)?;
    }
    let mut candidates: Vec<(String, bool)> = targets
        .listeners
        .iter()
        .map(|l| (l.clone(), true))
        .collect();
    let mut load_balancers = targets.load_balancers.clone();
    if targets.listeners.is_empty() && targets.load_balancers.is_empty() {
        load_balancers = client.load_balancers().await?;
    }
    for lb in &load_balancers {
        for l in client.listeners(lb).await? {
            candidates.push((l.arn, false));
        }
    }
    let mut seen = BTreeSet::new();
    let mut read = Vec::new();
    for (arn, named) in candidates {
        if seen.insert(arn.clone()) {
            read.push((read_listener(client, &arn).await?, named));
        }
    }
    // A maintenance rule on one listener tells the responder's target group on the others, so
    // that a rule forwarding there without its tags is recognised wherever it is.
    let known: BTreeSet<String> = read
        .iter()
        .flat_map(|(s, _)| s.known_responder_target_groups())
        .map(str::to_string)
        .collect();
    let mut selection = Selection {
        listeners: Vec::new(),
        skipped: Vec::new(),
    };
    for (mut snapshot, named) in read {
        let responder: Vec<String> = known
            .iter()
            .filter(|t| snapshot.is_lambda(t) != Some(false))
            .cloned()
            .collect();
        snapshot.responder_target_groups.extend(responder);
        match skip_reason(&snapshot, named, targets.environment.as_deref()) {
            Some(reason) => selection.skipped.push(Skipped {
                listener: snapshot.listener.arn.clone(),
                reason,
            }),
            None => selection.listeners.push(snapshot),
        }
    }
    Ok(selection)
}

/// Why a listener is left out of a selection, if it is.
fn skip_reason(
    snapshot: &ListenerSnapshot,
    named: bool,
    environment: Option<&str>,
) -> Option<String> {
    match (snapshot.responder_rule(), environment) {
        (None, _) if !named => Some("no maintenance rule".to_string()),
        (Some(_), Some(env)) if snapshot.environment() != Some(env) => Some(format!(
            "its maintenance rule belongs to environment {:?}, not {env:?}",
            snapshot.environment().unwrap_or("(none)")
        )),
        (None, Some(env)) => Some(format!("no maintenance rule of environment {env:?}")),
        _ => None,
    }
}

/// The planner's view of a listener as it is now.
pub async fn read_rules(
    client: &impl Listeners,
    listener: &str,
) -> Result<Vec<Rule>, ListenersError> {
    Ok(read_listener(client, listener).await?.planner_rules()?)
}
