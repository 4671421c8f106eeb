//! Engine.IO protocol 3 packets over websocket (placeholder; the codec lands next).
