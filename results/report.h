// Placeholder: the report generator (being written).
