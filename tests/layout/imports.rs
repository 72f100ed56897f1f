//! The import graph between the files of one crate, as the compiler resolves paths: every
//! `use` and every inline path that starts with `crate::`, `super::` or `self::` (or, in a
//! `mod.rs`/`lib.rs`, with a child module's name) is an edge from its file to the file that
//! defines what it names. A re-export (`pub use child::Name;` in a module's own file) is followed
//! to the child that defines `Name`, and is not itself an edge: a module's file that only
//! declares and re-exports its children is their front door, not their dependant. What a
//! `#[cfg(test)]` item imports is left out (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// One file of a crate: its module path (`["ops", "switch"]`; `[]` for `lib.rs`), whether it
/// is a directory's module (`mod.rs`, `lib.rs`: its children live under it) and its text.
pub struct SourceFile {
    pub module: Vec<String>,
    pub text: String,
}

/// A path the file refers to, and whether it is a re-export (`pub use`) of it.
struct Reference {
    path: Vec<String>,
    alias: Option<String>,
    reexport: bool,
}

/// The edges between the files of one crate: `graph[a]` holds the files `a` imports from,
/// each file named by its module path (`ops::switch`, `crate` for the root).
pub fn file_graph(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let parsed: Vec<(Vec<Reference>, BTreeSet<String>)> = files
        .iter()
        .map(|f| {
            let stream: TokenStream = f.text.parse().expect("the source tokenizes");
            let children: BTreeSet<String> = modules
                .iter()
                .filter(|m| m.len() == f.module.len() + 1 && m.starts_with(&f.module))
                .map(|m| m.last().unwrap().clone())
                .collect();
            let mut refs = Vec::new();
            let mut idents = BTreeSet::new();
            collect(stream, &children, &mut refs, &mut idents);
            (refs, idents)
        })
        .collect();
    // Each module's re-exports (name → the module that defines it), deepest modules first, so
    // that a front door re-exporting another front door's names finds them resolved.
    let mut reexports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].module.len()));
    for _ in 0..2 {
        for &i in &order {
            let from = &files[i].module;
            let mut map = BTreeMap::new();
            for r in parsed[i].0.iter().filter(|r| r.reexport) {
                let Some(name) = r.alias.clone().or_else(|| r.path.last().cloned()) else {
                    continue;
                };
                if let Some(target) = resolve(&r.path, from, &modules, &reexports) {
                    map.insert(name, target);
                }
            }
            reexports.insert(from.clone(), map);
        }
    }
    let mut graph = BTreeMap::new();
    for (file, (refs, idents)) in files.iter().zip(&parsed) {
        let from = &file.module;
        let mut edges = BTreeSet::new();
        for r in refs {
            let Some(target) = resolve(&r.path, from, &modules, &reexports) else {
                continue;
            };
            // The front door re-exporting what its children define.
            if r.reexport && target.len() > from.len() && target.starts_with(from) {
                continue;
            }
            edges.insert(target);
        }
        // A front door's own code using a name it re-exports.
        for (name, target) in reexports.get(from).into_iter().flatten() {
            if idents.contains(name) {
                edges.insert(target.clone());
            }
        }
        edges.remove(from);
        graph.insert(name(from), edges.iter().map(|m| name(m)).collect());
    }
    graph
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// The module (file) `path`, written in module `from`, names: `None` for another crate's.
fn resolve(
    path: &[String],
    from: &[String],
    modules: &BTreeSet<Vec<String>>,
    reexports: &BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
) -> Option<Vec<String>> {
    let mut segments = path.iter().peekable();
    let mut current: Vec<String> = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("self") => {
            segments.next();
            from.to_vec()
        }
        Some("super") => {
            let mut at = from.to_vec();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                at.pop();
            }
            at
        }
        Some(first) => {
            let mut child = from.to_vec();
            child.push(first.to_string());
            if !modules.contains(&child) {
                return None;
            }
            from.to_vec()
        }
        None => return None,
    };
    for segment in segments {
        if segment == "self" || segment == "*" {
            break;
        }
        let mut child = current.clone();
        child.push(segment.clone());
        if modules.contains(&child) {
            current = child;
            continue;
        }
        if let Some(target) = reexports.get(&current).and_then(|m| m.get(segment)) {
            return Some(target.clone());
        }
        break;
    }
    Some(current)
}

/// Every path of `stream` that can name one of the crate's modules, and every identifier (for
/// a front door's own use of the names it re-exports), outside `#[cfg(test)]` items.
fn collect(
    stream: TokenStream,
    children: &BTreeSet<String>,
    refs: &mut Vec<Reference>,
    idents: &mut BTreeSet<String>,
) {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '#' && is_cfg_test(tokens.get(i + 1)) => {
                i = end_of_item(&tokens, i + 2);
                continue;
            }
            TokenTree::Ident(id) if id == "use" => {
                let end = (i..tokens.len())
                    .find(|&j| matches!(&tokens[j], TokenTree::Punct(p) if p.as_char() == ';'))
                    .unwrap_or(tokens.len());
                let reexport = is_pub(&tokens[..i]);
                for (path, alias) in use_tree(&tokens[i + 1..end], &[]) {
                    refs.push(Reference {
                        path,
                        alias,
                        reexport,
                    });
                }
                i = end + 1;
                continue;
            }
            TokenTree::Ident(id) if starts_path(&tokens, i, children) => {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                while is_colons(&tokens, j) {
                    match tokens.get(j + 2) {
                        Some(TokenTree::Ident(next)) => path.push(next.to_string()),
                        _ => break,
                    }
                    j += 3;
                }
                refs.push(Reference {
                    path,
                    alias: None,
                    reexport: false,
                });
                i = j;
                continue;
            }
            // `mod child;` declares, it does not use.
            TokenTree::Ident(id) if id == "mod" => i += 1,
            TokenTree::Ident(id) => {
                idents.insert(id.to_string());
            }
            TokenTree::Group(g) => collect(g.stream(), children, refs, idents),
            _ => {}
        }
        i += 1;
    }
}

/// `#[cfg(test)]`.
fn is_cfg_test(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Group(g))
        if g.delimiter() == Delimiter::Bracket
            && g.stream().to_string().replace(' ', "") == "cfg(test)")
}

/// The index after the item that starts at `i`: its body (`{…}`) or its `;`.
fn end_of_item(tokens: &[TokenTree], i: usize) -> usize {
    for (j, token) in tokens.iter().enumerate().skip(i) {
        match token {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => return j + 1,
            TokenTree::Punct(p) if p.as_char() == ';' => return j + 1,
            _ => {}
        }
    }
    tokens.len()
}

/// Whether the `use` after `before` is public (`pub use`, `pub(crate) use`).
fn is_pub(before: &[TokenTree]) -> bool {
    let mut rest = before.iter().rev();
    match rest.next() {
        Some(TokenTree::Ident(id)) => id == "pub",
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            matches!(rest.next(), Some(TokenTree::Ident(id)) if id == "pub")
        }
        _ => false,
    }
}

/// `::` at `j`.
fn is_colons(tokens: &[TokenTree], j: usize) -> bool {
    matches!(
        (tokens.get(j), tokens.get(j + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && b.as_char() == ':'
    )
}

/// Whether the identifier at `i` starts a path into the crate: `crate::`, `super::`,
/// `self::`, or a child module's name followed by `::`, not itself after `::`.
fn starts_path(tokens: &[TokenTree], i: usize, children: &BTreeSet<String>) -> bool {
    let TokenTree::Ident(id) = &tokens[i] else {
        return false;
    };
    let id = id.to_string();
    let after_colons = i >= 2 && is_colons(tokens, i - 2);
    (matches!(id.as_str(), "crate" | "super" | "self") || children.contains(&id))
        && is_colons(tokens, i + 1)
        && !after_colons
}

/// The paths of a `use` tree (`a::{b, c::{d as e}, f::*}`), each with its alias.
fn use_tree(tokens: &[TokenTree], prefix: &[String]) -> Vec<(Vec<String>, Option<String>)> {
    let mut path = prefix.to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(id) if id == "as" => {
                let alias = tokens.get(i + 1).map(|t| t.to_string());
                out.push((path.clone(), alias.filter(|a| a != "_")));
                return out;
            }
            TokenTree::Ident(id) => path.push(id.to_string()),
            TokenTree::Punct(p) if p.as_char() == '*' => path.push("*".to_string()),
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                for part in inner.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                {
                    if !part.is_empty() {
                        out.extend(use_tree(part, &path));
                    }
                }
                return out;
            }
            _ => {}
        }
        i += 1;
    }
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    out.push((path, None));
    out
}

/// The strongly connected components of `graph` with more than one file: each is a set of
/// files that import each other, in a cycle.
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, recursive (the graphs are small).
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(node: &'g str, s: &mut State<'g>) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        for next in s.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !s.index.contains_key(next) {
                visit(next, s);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(node, &mut state);
        }
    }
    state.out.sort();
    state.out
}
