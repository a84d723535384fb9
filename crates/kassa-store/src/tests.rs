//! Store conformance tests (filled in below).
