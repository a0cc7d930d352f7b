//! Integration tests of the workflow core and the core nodes, in one binary so it links once:
//! workflows run through the real executor with the core nodes (`core-nodes`, a
//! dev-dependency: [`core_nodes::executor`], [`core_nodes::registry`]), outputs compared item
//! for item.

mod items_shared;
mod node_aggregate;
mod node_code;
mod node_date_time;
mod node_flows;
mod node_http;
mod node_loop;
mod node_remove_duplicates;
mod node_rename_keys;
mod node_sort_limit;
mod node_summarize;
mod node_switch;
mod node_wait;
