"""Events from the edges (JetStream ``CC_EVENTS``) turned into the roster, attendance and meeting state."""
