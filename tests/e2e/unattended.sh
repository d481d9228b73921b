# The unattended backup's files in scripts/: the systemd service and timer
# pass `systemd-analyze verify` (where it is installed), and the cron
# line, run as cron would run it with a test environment file, backs up
# printing nothing when all went well, and prints what went wrong and the
# exit status (3, 12) when it did not: what cron mails.
# shellcheck source=lib.sh
source "$E2E_LIB"

SCRIPTS="$E2E_DIR/../../scripts"
init_repo
SRC="$T/src"
mkdir -p "$SRC"
printf 'nightly\n' >"$SRC/f"

say "the systemd units"
if command -v systemd-analyze >/dev/null; then
	U="$T/units"
	mkdir -p "$U"
	cp "$SCRIPTS/cairn-backup.timer" "$U/"
	# verify wants the command to exist: this build's binary stands in.
	sed "s|/usr/local/bin/cairn|$CAIRN_BIN|" "$SCRIPTS/cairn-backup.service" >"$U/cairn-backup.service"
	run systemd-analyze verify "$U/cairn-backup.service" "$U/cairn-backup.timer"
	check_rc 0 "systemd-analyze verify passes"
	check "and has nothing to say" test ! -s "$ERR" -a ! -s "$OUT"
	check_grep "the service is a oneshot" '^Type=oneshot$' "$U/cairn-backup.service"
	check_grep "running backup --quiet" '^ExecStart=.* backup --quiet ' "$U/cairn-backup.service"
	check_grep "the timer runs late backups" '^Persistent=true$' "$U/cairn-backup.timer"
else
	skip "no systemd-analyze: the units are not verified"
fi

say "the cron line"
# The command of the cron line (after the five time fields and the user),
# reading this test's environment file.
cmd=$(grep -E '^[0-9*]' "$SCRIPTS/cairn-backup.cron" | cut -d' ' -f7- |
	sed "s|/etc/cairn/backup.env|$T/backup.env|")
check "the cron file has one job line" test -n "$cmd"
printf '%s\n' "$CAIRN_PASSWORD" >"$T/password"
chmod 600 "$T/password"
write_env()
{
	printf '%s\n' "CAIRN_REPO=$CAIRN_REPO" "CAIRN_PASSWORD_FILE=$1" \
		"CAIRN_BACKUP_PATHS=\"$2\"" "CAIRN_BACKUP_OPTS=\"--tag nightly\"" >"$T/backup.env"
}
cron_run()
{
	run env -i PATH="$(dirname "$CAIRN_BIN"):/usr/bin:/bin" HOME="$HOME" \
		CAIRN_CACHE_DIR="$CAIRN_CACHE_DIR" sh -c "$cmd"
}

write_env "$T/password" "$SRC"
cron_run
check_rc 0 "a good night exits 0"
check "and prints nothing: no mail" test ! -s "$OUT" -a ! -s "$ERR"
run cairn snapshots --json --tag nightly
check "the snapshot is there, tagged" grep -q "\"$SRC\"" "$OUT"

write_env "$T/password" "$SRC $T/gone"
cron_run
check_rc 0 "the line itself exits 0 when the backup fails"
check_grep "a night with a missing path names it" "$T/gone" "$ERR"
check_grep "and says the exit status, 3" '^cairn backup: exit status 3$' "$OUT"

printf 'wrong\n' >"$T/wrong"
write_env "$T/wrong" "$SRC"
cron_run
check_grep "a wrong password is said" "password" "$ERR"
check_grep "with exit status 12" '^cairn backup: exit status 12$' "$OUT"

e2e_finish
