#include "progress.h"

#include "common.h"
#include "util/time.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 250000000ull
#define LINE_MAX_BYTES 512

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int active; /* drawing allowed */
static int shown;  /* a line is on the screen now */
static uint64_t start_ns, last_draw_ns;

static void erase_locked(void)
{
	if (shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		shown = 0;
	}
}

void cli_progress_start(int wanted)
{
	pthread_mutex_lock(&lock);
	active = wanted && isatty(STDERR_FILENO);
	start_ns = cairn_now_ns(CLOCK_MONOTONIC);
	last_draw_ns = 0;
	pthread_mutex_unlock(&lock);
}

int cli_progress_active(void)
{
	pthread_mutex_lock(&lock);
	int a = active;
	pthread_mutex_unlock(&lock);
	return a;
}

void cli_progress_end(void)
{
	pthread_mutex_lock(&lock);
	erase_locked();
	active = 0;
	pthread_mutex_unlock(&lock);
}

void cli_progress_lock(void)
{
	pthread_mutex_lock(&lock);
	erase_locked();
}

void cli_progress_unlock(void)
{
	fflush(stderr);
	pthread_mutex_unlock(&lock);
}

static size_t terminal_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Appends as much of the end of path as fits in room bytes, control bytes
 * shown as '?', starting on a UTF-8 character boundary. */
static size_t append_path_tail(char *out, size_t room, const char *path)
{
	size_t len = strlen(path), n = 0;
	if (room < 8)
		return 0;
	const char *p = path;
	if (len > room) {
		memcpy(out, "...", 3);
		n = 3;
		p = path + len - (room - 3);
		while (*p && ((unsigned char)*p & 0xc0) == 0x80)
			p++;
	}
	for (; *p; p++)
		out[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p;
	return n;
}

static void draw_locked(const cairn_progress *p, uint64_t now)
{
	char line[LINE_MAX_BYTES], done[32], total[32], rate[32], clock[32];
	uint64_t elapsed = now - start_ns;
	double secs = (double)elapsed / 1e9;
	size_t n;

	cli_clock_format(clock, sizeof(clock), elapsed / 1000000000ull);
	cli_size_format(done, sizeof(done), p->bytes_done);
	double bps = secs > 0.5 ? (double)p->bytes_done / secs : 0;
	cli_size_format(rate, sizeof(rate), (uint64_t)bps);

	const char *unit = p->unit ? p->unit : "files";
	if (p->files_total)
		n = (size_t)snprintf(line, sizeof(line), "[%s] %llu/%llu %s", clock,
		                     (unsigned long long)p->files_done,
		                     (unsigned long long)p->files_total, unit);
	else /* "1 file", "1 index object": the units are plurals in -s */
		n = (size_t)snprintf(
		    line, sizeof(line), "[%s] %llu %.*s", clock, (unsigned long long)p->files_done,
		    (int)strlen(unit) - (p->files_done == 1 && strlen(unit) > 1), unit);
	if (p->bytes_total) {
		cli_size_format(total, sizeof(total), p->bytes_total);
		double pct = 100.0 * (double)p->bytes_done / (double)p->bytes_total;
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %s / %s (%.1f%%)", done, total,
		                      pct > 100 ? 100.0 : pct);
	} else {
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %s", done);
	}
	if (bps > 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", %s/s", rate);
	if (p->bytes_total > p->bytes_done && bps > 0) {
		cli_clock_format(clock, sizeof(clock),
		                 (uint64_t)((double)(p->bytes_total - p->bytes_done) / bps));
		n += (size_t)snprintf(line + n, sizeof(line) - n, ", ETA %s", clock);
	}

	/* One column short of the width, so the terminal never wraps. */
	size_t width = terminal_width() - 1;
	if (width > sizeof(line) - 1)
		width = sizeof(line) - 1;
	if (n > width)
		n = width;
	if (p->current && n + 2 < width) {
		line[n++] = ' ';
		line[n++] = ' ';
		n += append_path_tail(line + n, width - n, p->current);
	}
	line[n] = '\0';
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	shown = 1;
}

void cli_progress_cb(void *ud, const cairn_progress *p)
{
	pthread_mutex_lock(&lock);
	if (active) {
		uint64_t now = cairn_now_ns(CLOCK_MONOTONIC);
		if (last_draw_ns == 0 || now - last_draw_ns >= REDRAW_NS) {
			last_draw_ns = now;
			draw_locked(p, now);
		}
	}
	pthread_mutex_unlock(&lock);
}
