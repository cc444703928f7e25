# A continuous job: kept running, restarted if it exits, stopped gracefully
# (the host creates $WEBJOBS_SHUTDOWN_FILE, then sends SIGTERM).
#   webjobs logs heartbeat -f
trap 'echo "heartbeat asked to stop"; exit 0' TERM
echo "heartbeat started"
while [ ! -e "$WEBJOBS_SHUTDOWN_FILE" ]; do
	echo "heartbeat at $(date -u +%H:%M:%S) UTC"
	sleep 10 &
	wait $!
done
echo "heartbeat asked to stop"
