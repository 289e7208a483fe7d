"""An edge node: WebSocket / Socket.IO signaling and an aiortc SFU that forwards media as is."""
