// Flyte console: the action tree of a run (parents, groups, flyte.map items folded under one node).

import { actionPhase } from "./util.js";


/** Phase of a folded node (a group or flyte.map items) from the phases of what it holds. */
export function summaryPhase(counts, total) {
  for (const p of ["FAILED", "TIMED_OUT", "ABORTED", "RUNNING", "INITIALIZING", "WAITING_FOR_RESOURCES"]) {
    if (counts[p]) return p;
  }
  if (counts.QUEUED) return counts.QUEUED === total ? "QUEUED" : "RUNNING";
  if (counts.CACHED === total) return "CACHED";
  return total ? "SUCCEEDED" : "UNKNOWN";
}

export function byStart(a, b) {
  const sa = a.start ?? Infinity;
  const sb = b.start ?? Infinity;
  if (sa !== sb) return sa - sb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The tree of a run: action nodes under their parents; actions of one group under a group node; the items of
 * one flyte.map under one map node (folded by default). Returns {roots, byKey}.
 */
export function buildTree(actions) {
  const byParent = new Map();
  const roots = [];
  for (const a of actions.values()) {
    if (a.parent == null || !actions.has(a.parent)) roots.push(a);
    else {
      let list = byParent.get(a.parent);
      if (!list) byParent.set(a.parent, (list = []));
      list.push(a);
    }
  }
  const byKey = new Map();

  function synthetic(kind, key, label, parentNode) {
    const n = { kind, key, label, children: [], parent: parentNode, counts: {}, total: 0, start: null, end: null,
      open: false, actions: [] };
    byKey.set(key, n);
    return n;
  }

  function actionNode(a, parentNode) {
    const n = { kind: "action", key: a.name, a, children: [], parent: parentNode };
    byKey.set(a.name, n);
    n.children = childrenOf(a.name, n);
    return n;
  }

  function childrenOf(parentName, parentNode) {
    const kids = byParent.get(parentName);
    if (!kids) return [];
    kids.sort(byStart);
    const out = [];
    const groups = new Map();
    const maps = new Map();
    // a child inherits its parent's group (records repeat it); a flyte.map's items carry their map as group
    const parentGroup = actions.has(parentName) ? actions.get(parentName).group : null;
    for (const a of kids) {
      let container = out;
      let holder = parentNode;
      let mapsHere = maps;
      const folded = [];
      const grp = a.group && a.group !== parentGroup && !(a.map && String(a.map.of) === a.group) ? a.group : null;
      if (grp) {
        let g = groups.get(grp);
        if (!g) {
          g = synthetic("group", `${parentName}\u0000g\u0000${grp}`, grp, parentNode);
          g.maps = new Map();
          groups.set(grp, g);
          out.push(g);
        }
        container = g.children;
        holder = g;
        mapsHere = g.maps;
        folded.push(g);
      }
      if (a.map) {
        const of = String(a.map.of);
        let m = mapsHere.get(of);
        if (!m) {
          m = synthetic("map", `${holder.key}\u0000m\u0000${of}`, of, holder);
          mapsHere.set(of, m);
          container.push(m);
        }
        container = m.children;
        holder = m;
        folded.push(m);
      }
      container.push(actionNode(a, holder));
      for (const f of folded) {
        const p = actionPhase(a);
        f.counts[p] = (f.counts[p] || 0) + 1;
        f.total += 1;
        f.actions.push(a);
        if (a.start != null && (f.start == null || a.start < f.start)) f.start = a.start;
      }
    }
    for (const m of [...maps.values(), ...[...groups.values()].flatMap((g) => [...g.maps.values()])]) {
      m.children.sort((x, y) => (x.a.map.index ?? 0) - (y.a.map.index ?? 0));
    }
    for (const f of [...groups.values(), ...maps.values(), ...[...groups.values()].flatMap((g) => [...g.maps.values()])]) {
      f.phase = summaryPhase(f.counts, f.total);
      let end = null;
      let done = true;
      for (const a of f.actions) {
        if (a.end == null) done = false;
        else if (end == null || a.end > end) end = a.end;
      }
      f.end = done ? end : null;
    }
    return out;
  }

  // A deep chain of nested calls would overflow recursion one action per frame; build roots iteratively per
  // level is not needed below ~5,000 levels, which no real run has.
  const rootNodes = roots.sort(byStart).map((a) => actionNode(a, null));
  return { roots: rootNodes, byKey };
}

export function nodePhase(n) {
  return n.kind === "action" ? actionPhase(n.a) : n.phase;
}

export function nodeStart(n) {
  return n.kind === "action" ? n.a.start : n.start;
}

export function nodeEnd(n) {
  return n.kind === "action" ? n.a.end : n.end;
}
