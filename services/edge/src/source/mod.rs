//! Inputs of the edge agent. Each source turns what a camera or NVR says
//! into `vigil.v1.Detection`s and hands them to the [`crate::Intake`].

pub mod frigate;
pub mod simulator;
