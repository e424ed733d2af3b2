//! The statistics themselves, on plain slices: each matches the SciPy / NumPy call Evidently
//! makes (named on each function), so the windows only have to produce the same inputs.

mod chi_squared;
mod gamma;
mod jensen_shannon;
mod ks;
mod psi;
mod wasserstein;
mod z_test;

pub use chi_squared::{ChiSquare, chi_squared_sf, chisquare};
pub use jensen_shannon::jensen_shannon_distance;
pub use ks::{KS_EXACT_MAX_N, Ks, ks_p_value, ks_two_sample};
pub use psi::{fill_zeros, psi};
pub use wasserstein::wasserstein_distance;
pub use z_test::z_test_p_value;
