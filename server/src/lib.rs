//! Sealpost server: store-and-forward of ciphertext over the Sealpost protocol.
