"""The control plane: accounts, sign-in, meetings, placement, join tokens and the web app."""
