//! MPEG-2 transport stream writing (ISO/IEC 13818-1 §2.4; AVC carriage per H.222.0 §2.14).
//!
//! Wire formats are borrowed views and writable representations in the style of smoltcp:
//! [`packet`] (transport packet and adaptation field, §2.4.3.2–§2.4.3.5), [`pes`] (PES header,
//! §2.4.3.6–§2.4.3.7), [`psi`] (PAT/PMT sections, §2.4.4), [`crc`] (CRC-32/MPEG-2, Annex A).
//! [`mux`] holds the one stateful part, [`TsMuxer`], which allocates only in `new`.

pub mod crc;
pub mod mux;
pub mod packet;
pub mod pes;
pub mod psi;

pub use mux::{MuxConfig, MuxError, PacketSink, TsMuxer};

/// Length of a transport packet.
pub const PACKET_LEN: usize = 188;
