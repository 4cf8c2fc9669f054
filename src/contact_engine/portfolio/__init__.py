"""Portfolio import: CSV and JSON files of debt cases, validated row by row, all or nothing."""
