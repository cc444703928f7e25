# A scheduled job: settings.job fires it at second 0 of every minute.
#   webjobs history tick
echo "tick at $(date -u +%H:%M:%S) UTC"
