"""Provider adapters behind one Channel ABC: Twilio voice and SMS, SMTP email, the simulator."""
