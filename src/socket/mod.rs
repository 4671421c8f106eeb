//! Socket.IO protocol revision 4 packets (placeholder; the codec lands next).
