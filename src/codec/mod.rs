//! Elementary-stream helpers the muxer needs: H.264 Annex B NAL units
//! (ITU-T H.264 Annex B, §7.3.1) and AAC ADTS headers (ISO/IEC 14496-3 §1.A.2).
//!
//! Both are borrowed views over the encoder's output: nothing here allocates.

pub mod adts;
pub mod h264;
