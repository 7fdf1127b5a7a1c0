//! FDK AAC trimmed to the AAC-LC encoder: stand-ins for the entry points of FDK's SBR encoder
//! (HE-AAC v1/v2: `libSBRenc/include/sbr_encoder.h`) and MPEG Surround encoder
//! (`libSACenc/include/sacenc_lib.h`) that `libAACenc` calls.
//!
//! hlscam encodes AAC-LC only (ISO/IEC 14496-3 §4, AOT 2), but the `fdk-aac` crate opens the
//! encoder with `aacEncOpen(.., encModules = 0, ..)` ("every module the library has"), so the
//! static library's SBR, parametric-stereo and MPEG Surround encoders (~250 KB of code and
//! tables on aarch64) were linked although no stream could use them. These definitions are in the
//! program's own object files, so the linker resolves `libAACenc`'s references here and never
//! pulls those archive members. They behave like a library built without the modules:
//!
//! - `sbrEncoder_GetLibInfo` / `FDK_sacenc_getLibInfo` register nothing, so `aacEncOpen` sees
//!   no SBR/PS capability and never allocates an SBR encoder; asking for AOT 5/29 (HE-AAC) then
//!   fails with `AACENC_INVALID_CONFIG` instead of encoding.
//! - `aacEncOpen` always opens the MPEG Surround wrapper and fails if that fails, so
//!   `FDK_sacenc_open` succeeds with a null handle, and `FDK_sacenc_getInfo` reports what the
//!   real library reports for an opened, uninitialised encoder (zero delay: `aacEncInit` reads
//!   it for every AOT). Everything else that would use the module (only AAC-ELD with
//!   `MODE_212`) gets an error code back and the encoder refuses that configuration.
//!
//! The AAC-LC bitstream is unchanged: it never touches these modules (`isSbrActive` is false and
//! `AC_LD_MPS` is only set for AAC-ELD).
#![allow(non_snake_case)]

use std::ffi::{c_int, c_uint, c_void};

/// `SACENC_OK` (`FDK_SACENC_ERROR`).
const SACENC_OK: c_int = 0;
/// `SACENC_INVALID_HANDLE`.
const SACENC_INVALID_HANDLE: c_int = 0x80;
/// `SACENC_INIT_ERROR`.
const SACENC_INIT_ERROR: c_int = 0x8000;
/// Any non-zero `INT` is an error for the SBR encoder's functions.
const SBR_ERROR: c_int = 1;

/// Clears `*handle` (the `Open`/`Close` out-parameter) when the pointer is not null.
///
/// # Safety
/// `handle` is null or points to a writable handle (a pointer-sized slot).
unsafe fn clear(handle: *mut *mut c_void) {
    if !handle.is_null() {
        // SAFETY: non-null, and the caller passes a pointer to its handle variable.
        unsafe { *handle = std::ptr::null_mut() };
    }
}

// ---- libSBRenc ----------------------------------------------------------------------------

/// No SBR encoder: registers no library info, so no SBR/PS capability.
#[no_mangle]
extern "C" fn sbrEncoder_GetLibInfo(_info: *mut c_void) -> c_int {
    0
}

/// Never reached (no SBR capability); fails like an out-of-memory open.
///
/// # Safety
/// Called by FDK with a pointer to its handle slot (or null).
#[no_mangle]
unsafe extern "C" fn sbrEncoder_Open(
    handle: *mut *mut c_void,
    _elements: c_int,
    _channels: c_int,
    _ps: c_int,
) -> c_int {
    // SAFETY: forwarded from the caller's contract.
    unsafe { clear(handle) };
    SBR_ERROR
}

/// Nothing to free.
///
/// # Safety
/// Called by FDK with a pointer to its handle slot (or null).
#[no_mangle]
unsafe extern "C" fn sbrEncoder_Close(handle: *mut *mut c_void) {
    // SAFETY: forwarded from the caller's contract.
    unsafe { clear(handle) }
}

/// SBR initialisation always fails.
#[no_mangle]
extern "C" fn sbrEncoder_Init() -> c_int {
    SBR_ERROR
}

/// SBR encoding always fails.
#[no_mangle]
extern "C" fn sbrEncoder_EncodeFrame() -> c_int {
    SBR_ERROR
}

/// No buffers to update.
#[no_mangle]
extern "C" fn sbrEncoder_UpdateBuffers() -> c_int {
    SBR_ERROR
}

/// No SBR header to write.
#[no_mangle]
extern "C" fn sbrEncoder_GetHeader() {}

/// No SBR data rate.
#[no_mangle]
extern "C" fn sbrEncoder_GetEstimateBitrate() -> c_int {
    0
}

/// No SBR delay.
#[no_mangle]
extern "C" fn sbrEncoder_GetInputDataDelay() -> c_int {
    0
}

/// No SBR decoder delay.
#[no_mangle]
extern "C" fn sbrEncoder_GetSbrDecDelay() -> c_int {
    0
}

/// "Dual rate only" (the library's answer for AOTs without SBR).
#[no_mangle]
extern "C" fn sbrEncoder_IsSingleRatePossible(_aot: c_int) -> c_uint {
    0
}

/// No SBR bit rate limits: the bit rate is returned unchanged.
#[no_mangle]
extern "C" fn sbrEncoder_LimitBitRate(bit_rate: c_uint) -> c_uint {
    bit_rate
}

// ---- libSACenc ----------------------------------------------------------------------------

/// No MPEG Surround encoder: registers no library info.
#[no_mangle]
extern "C" fn FDK_sacenc_getLibInfo(_info: *mut c_void) -> c_int {
    SACENC_OK
}

/// Succeeds with a null handle (`aacEncOpen` insists on opening the MPEG Surround wrapper).
///
/// # Safety
/// Called by FDK with a pointer to its handle slot (or null).
#[no_mangle]
unsafe extern "C" fn FDK_sacenc_open(handle: *mut *mut c_void) -> c_int {
    if handle.is_null() {
        return SACENC_INVALID_HANDLE;
    }
    // SAFETY: forwarded from the caller's contract.
    unsafe { clear(handle) };
    SACENC_OK
}

/// Nothing to free.
///
/// # Safety
/// Called by FDK with a pointer to its handle slot (or null).
#[no_mangle]
unsafe extern "C" fn FDK_sacenc_close(handle: *mut *mut c_void) -> c_int {
    if handle.is_null() {
        return SACENC_INVALID_HANDLE;
    }
    // SAFETY: forwarded from the caller's contract.
    unsafe { clear(handle) };
    SACENC_OK
}

/// Every MPEG Surround parameter is refused, so AAC-ELD `MODE_212` fails to initialise.
#[no_mangle]
extern "C" fn FDK_sacenc_setParam() -> c_int {
    SACENC_INVALID_HANDLE
}

/// MPEG Surround initialisation always fails.
#[no_mangle]
extern "C" fn FDK_sacenc_init() -> c_int {
    SACENC_INIT_ERROR
}

/// MPEG Surround encoding always fails.
#[no_mangle]
extern "C" fn FDK_sacenc_encode() -> c_int {
    SACENC_INVALID_HANDLE
}

/// `MPEG4SPACEENC_SSCBUF`: a spatial specific config of `bits` bits at `data`.
#[repr(C)]
struct SscBuf {
    bits: c_int,
    data: *const u8,
}

// SAFETY: immutable, and `data` points to an immutable static.
unsafe impl Sync for SscBuf {}

/// An empty spatial specific config (its one byte is never written out: 0 bits).
static EMPTY_SSC: SscBuf = SscBuf {
    bits: 0,
    data: [0u8].as_ptr(),
};

/// `MP4SPACEENC_INFO`.
#[repr(C)]
struct SacInfo {
    sample_rate: c_int,
    samples_frame: c_int,
    total_input_channels: c_int,
    dmx_delay: c_int,
    codec_delay: c_int,
    decoder_delay: c_int,
    payload_delay: c_int,
    discard_out_frames: c_int,
    ssc: *const SscBuf,
}

/// What the real library reports for an encoder that was opened but never initialised: all
/// zero (no delay) and an empty config. `aacEncInit` reads the delay of the MPEG Surround
/// wrapper unconditionally (`fMax(FDK_MpegsEnc_GetDelay(..), nDelay)`), so this must fill it.
///
/// # Safety
/// Called by FDK with null or a pointer to a writable `MP4SPACEENC_INFO`.
#[no_mangle]
unsafe extern "C" fn FDK_sacenc_getInfo(_handle: *mut c_void, info: *mut SacInfo) -> c_int {
    if info.is_null() {
        return SACENC_INVALID_HANDLE;
    }
    let zero = SacInfo {
        sample_rate: 0,
        samples_frame: 0,
        total_input_channels: 0,
        dmx_delay: 0,
        codec_delay: 0,
        decoder_delay: 0,
        payload_delay: 0,
        discard_out_frames: 0,
        ssc: &EMPTY_SSC,
    };
    // SAFETY: non-null, and FDK passes its `MP4SPACEENC_INFO` (same layout as `SacInfo`).
    unsafe { info.write(zero) };
    SACENC_OK
}
