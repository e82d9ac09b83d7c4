//! The applications behind the runnable examples, as libraries so that the
//! tests drive exactly the router the examples serve.

pub mod orders;
pub mod shipping;
pub mod storage;
