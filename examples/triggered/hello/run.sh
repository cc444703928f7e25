# A triggered job: run it with arguments, read what it printed.
#   webjobs run hello --wait -- first 'second arg'
echo "hello from $WEBJOBS_NAME (run $WEBJOBS_RUN_ID)"
i=1
for arg in "$@"; do
	echo "argument $i: $arg"
	i=$((i + 1))
done
