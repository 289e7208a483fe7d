"""The web app: sign-in, meetings and the meeting room, as plain ES modules served by the control plane."""
