//! Elementary-stream helpers the muxer needs: H.264 Annex B NAL units
//! (ITU-T H.264 Annex B, §7.3.1) and AAC ADTS headers (ISO/IEC 14496-3 §1.A.2).
//!
//! Both are borrowed views over the encoder's output: nothing here allocates. [`annexb`] cuts
//! an H.264 byte stream read from a pipe (a camera helper's output) into access units, in one
//! buffer allocated up front. [`sps`] reads the picture size and profile from a sequence
//! parameter set.

pub mod adts;
pub mod annexb;
pub mod h264;
pub mod sps;
