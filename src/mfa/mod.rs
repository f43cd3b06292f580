//! Building blocks of multi-factor login (issue 17, in progress): one-time
//! codes ([`totp`], RFC 6238), their secrets sealed at rest
//! ([`secret_box`]), and recovery codes ([`recovery`]). The routes and the
//! two-step login come on top of these.

pub mod recovery;
pub mod secret_box;
pub mod totp;
