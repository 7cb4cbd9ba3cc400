"""Post-call analytics: transcripts, redaction, sentiment, metrics, scorecards, web console."""
