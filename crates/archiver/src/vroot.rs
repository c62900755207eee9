//! The paths given to a backup, arranged as the directories that lead to them.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The paths given to a backup, arranged as the directories that lead to them.
pub(crate) enum VNode {
    Target(PathBuf),
    Dir(BTreeMap<Vec<u8>, VNode>),
}

pub(crate) fn virtual_root(paths: &[PathBuf]) -> VNode {
    fn insert(node: &mut VNode, parts: &[Vec<u8>], target: &Path) {
        // A target whose ancestor is itself a target is already covered.
        let VNode::Dir(children) = node else { return };
        match parts {
            [] => {}
            [last] => {
                children.insert(last.clone(), VNode::Target(target.to_owned()));
            }
            [first, rest @ ..] => insert(
                children
                    .entry(first.clone())
                    .or_insert_with(|| VNode::Dir(BTreeMap::new())),
                rest,
                target,
            ),
        }
    }
    let mut root = VNode::Dir(BTreeMap::new());
    // Sorted, so an ancestor is inserted before its descendants.
    for p in paths {
        let parts: Vec<Vec<u8>> = p
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            // "/" itself: everything is below it.
            return VNode::Target(p.clone());
        }
        insert(&mut root, &parts, p);
    }
    root
}
