/*
 * A same-machine stand-in for Surprise's SVD (scikit-surprise, prediction_algorithms/
 * matrix_factorization.pyx, class SVD): the trainset construction, the SGD training loop and
 * the clipped prediction, ported to plain C so its fit time can be measured where Surprise
 * itself cannot be installed. See README.md for what is and is not the same.
 *
 * Usage:
 *   svd --data u.data --train TRAIN_ROWS --test TEST_ROWS [--factors 100] [--epochs 20]
 *       [--lr 0.005] [--reg 0.02] [--init-mean 0] [--init-std 0.1] [--seed 0]
 *       [--rating-min 1] [--rating-max 5]
 *
 * u.data: tab-separated "user item rating timestamp" lines (MovieLens 100K), non-negative
 * integer ids. TRAIN_ROWS / TEST_ROWS: one 0-based line number of u.data per line; the train
 * rows in the order Surprise's KFold hands them to construct_trainset (the shuffled order).
 * Prints one JSON object on stdout. Exit 2 for usage errors, 1 for bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Ids above this would make the raw-to-inner lookup tables unreasonably large. */
#define MAX_RAW_ID 100000000L

typedef struct {
  long *user;
  long *item;
  double *rating;
  long rows;
} Ratings;

typedef struct {
  long *rows;
  long count;
} RowList;

typedef struct {
  int factors;
  int epochs;
  double lr_bu, lr_bi, lr_pu, lr_qi;
  double reg_bu, reg_bi, reg_pu, reg_qi;
  double init_mean, init_std;
  uint64_t seed;
  double rating_min, rating_max;
} Settings;

/* Surprise's Trainset, reduced to what SVD reads: ur flattened into parallel arrays, users
 * in inner-id order, each user's ratings in the order they were added. */
typedef struct {
  int n_users, n_items;
  long n_ratings;
  int *u;
  int *i;
  double *r;
  /* raw id -> inner id + 1 (0 = unknown), indexed by raw id. */
  int *user_inner;
  int *item_inner;
  long max_user, max_item;
} Trainset;

static void *checked_alloc(size_t count, size_t size) {
  void *p = calloc(count == 0 ? 1 : count, size);
  if (p == NULL) {
    fprintf(stderr, "svd: out of memory allocating %zu x %zu bytes\n", count, size);
    exit(1);
  }
  return p;
}

static void fail_usage(const char *message, const char *detail) {
  fprintf(stderr, "svd: %s%s\n", message, detail);
  exit(2);
}

/* ---------------------------------------------------------------------------------------
 * Input */

static FILE *open_input(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "svd: cannot read %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return f;
}

static long parse_id(const char *token, const char *path, long line, const char *what) {
  char *end;
  errno = 0;
  long value = strtol(token, &end, 10);
  if (*token == '\0' || *end != '\0' || errno != 0 || value < 0 || value > MAX_RAW_ID) {
    fprintf(stderr, "svd: %s:%ld: %s '%s' is not an integer from 0 to %ld\n", path, line, what, token, MAX_RAW_ID);
    exit(1);
  }
  return value;
}

/* Reads u.data: exactly four tab-separated fields per line. */
static Ratings read_ratings(const char *path) {
  FILE *f = open_input(path);
  long capacity = 1 << 16;
  Ratings data = {checked_alloc(capacity, sizeof(long)), checked_alloc(capacity, sizeof(long)), checked_alloc(capacity, sizeof(double)), 0};
  char *buffer = NULL;
  size_t buffer_size = 0;
  long line = 0;
  while (getline(&buffer, &buffer_size, f) != -1) {
    line++;
    size_t length = strcspn(buffer, "\r\n");
    buffer[length] = '\0';
    char *fields[4];
    int count = 0;
    char *cursor = buffer;
    for (;;) {
      char *tab = strchr(cursor, '\t');
      if (count < 4) fields[count] = cursor;
      count++;
      if (tab == NULL) break;
      *tab = '\0';
      cursor = tab + 1;
    }
    if (count != 4) {
      fprintf(stderr, "svd: %s:%ld: expected 4 tab-separated fields (user, item, rating, timestamp), found %d\n", path, line, count);
      exit(1);
    }
    if (data.rows == capacity) {
      capacity *= 2;
      data.user = realloc(data.user, capacity * sizeof(long));
      data.item = realloc(data.item, capacity * sizeof(long));
      data.rating = realloc(data.rating, capacity * sizeof(double));
      if (data.user == NULL || data.item == NULL || data.rating == NULL) {
        fprintf(stderr, "svd: out of memory reading %s\n", path);
        exit(1);
      }
    }
    data.user[data.rows] = parse_id(fields[0], path, line, "user id");
    data.item[data.rows] = parse_id(fields[1], path, line, "item id");
    char *end;
    double rating = strtod(fields[2], &end);
    if (*fields[2] == '\0' || *end != '\0' || !isfinite(rating)) {
      fprintf(stderr, "svd: %s:%ld: rating '%s' is not a number\n", path, line, fields[2]);
      exit(1);
    }
    data.rating[data.rows] = rating;
    data.rows++;
  }
  free(buffer);
  fclose(f);
  return data;
}

/* Reads a row list: one 0-based u.data line number per line. */
static RowList read_rows(const char *path, long data_rows) {
  FILE *f = open_input(path);
  long capacity = 1 << 16;
  RowList list = {checked_alloc(capacity, sizeof(long)), 0};
  char *buffer = NULL;
  size_t buffer_size = 0;
  long line = 0;
  while (getline(&buffer, &buffer_size, f) != -1) {
    line++;
    buffer[strcspn(buffer, "\r\n")] = '\0';
    char *end;
    errno = 0;
    long row = strtol(buffer, &end, 10);
    if (*buffer == '\0' || *end != '\0' || errno != 0 || row < 0 || row >= data_rows) {
      fprintf(stderr, "svd: %s:%ld: '%s' is not a row number from 0 to %ld (the ratings file has %ld rows)\n", path, line, buffer, data_rows - 1, data_rows);
      exit(1);
    }
    if (list.count == capacity) {
      capacity *= 2;
      list.rows = realloc(list.rows, capacity * sizeof(long));
      if (list.rows == NULL) {
        fprintf(stderr, "svd: out of memory reading %s\n", path);
        exit(1);
      }
    }
    list.rows[list.count++] = row;
  }
  free(buffer);
  fclose(f);
  if (list.count == 0) {
    fprintf(stderr, "svd: %s: no rows\n", path);
    exit(1);
  }
  return list;
}

/* ---------------------------------------------------------------------------------------
 * Trainset: Surprise's Dataset.construct_trainset. Inner ids are given in order of first
 * appearance in the (shuffled) training ratings; ur[u] keeps each user's ratings in that
 * order, and all_ratings() walks ur user by user in inner-id order. */

static long max_of(const long *values, long n) {
  long m = 0;
  for (long k = 0; k < n; k++)
    if (values[k] > m) m = values[k];
  return m;
}

static Trainset construct_trainset(const Ratings *data, const RowList *train) {
  Trainset t = {0};
  t.max_user = max_of(data->user, data->rows);
  t.max_item = max_of(data->item, data->rows);
  t.user_inner = checked_alloc(t.max_user + 1, sizeof(int));
  t.item_inner = checked_alloc(t.max_item + 1, sizeof(int));
  t.n_ratings = train->count;
  int *raw_u = checked_alloc(train->count, sizeof(int));
  for (long k = 0; k < train->count; k++) {
    long row = train->rows[k];
    if (t.user_inner[data->user[row]] == 0) t.user_inner[data->user[row]] = ++t.n_users;
    if (t.item_inner[data->item[row]] == 0) t.item_inner[data->item[row]] = ++t.n_items;
    raw_u[k] = t.user_inner[data->user[row]] - 1;
  }
  /* A stable counting sort by inner user id = appending to ur[u] in order. */
  long *offset = checked_alloc((size_t)t.n_users + 1, sizeof(long));
  for (long k = 0; k < train->count; k++) offset[raw_u[k] + 1]++;
  for (int u = 0; u < t.n_users; u++) offset[u + 1] += offset[u];
  t.u = checked_alloc(train->count, sizeof(int));
  t.i = checked_alloc(train->count, sizeof(int));
  t.r = checked_alloc(train->count, sizeof(double));
  for (long k = 0; k < train->count; k++) {
    long row = train->rows[k];
    long at = offset[raw_u[k]]++;
    t.u[at] = raw_u[k];
    t.i[at] = t.item_inner[data->item[row]] - 1;
    t.r[at] = data->rating[row];
  }
  free(offset);
  free(raw_u);
  return t;
}

/* ---------------------------------------------------------------------------------------
 * Random normals for the factor initialisation. Surprise draws them with numpy's
 * RandomState.normal (Mersenne Twister, polar method); this uses splitmix64 with the same
 * polar method. The stream differs, the distribution does not. */

static uint64_t rng_state;

static double next_uniform(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double next_gauss(void) {
  static int has_cached = 0;
  static double cached;
  if (has_cached) {
    has_cached = 0;
    return cached;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * next_uniform() - 1.0;
    x2 = 2.0 * next_uniform() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  double f = sqrt(-2.0 * log(r2) / r2);
  cached = f * x1;
  has_cached = 1;
  return f * x2;
}

/* ---------------------------------------------------------------------------------------
 * SVD.fit: the global mean (Trainset.global_mean, computed on first access inside sgd),
 * the initialisation and SGD, statement for statement as SVD.sgd (biased = True). */

typedef struct {
  double global_mean;
  double *bu, *bi, *pu, *qi;
} Model;

static Model fit(const Trainset *t, const Settings *s) {
  Model m;
  double sum = 0;
  for (long k = 0; k < t->n_ratings; k++) sum += t->r[k];
  m.global_mean = sum / (double)t->n_ratings;

  const int n_factors = s->factors;
  m.bu = checked_alloc(t->n_users, sizeof(double));
  m.bi = checked_alloc(t->n_items, sizeof(double));
  m.pu = checked_alloc((size_t)t->n_users * n_factors, sizeof(double));
  m.qi = checked_alloc((size_t)t->n_items * n_factors, sizeof(double));
  rng_state = s->seed;
  for (size_t k = 0; k < (size_t)t->n_users * n_factors; k++) m.pu[k] = s->init_mean + s->init_std * next_gauss();
  for (size_t k = 0; k < (size_t)t->n_items * n_factors; k++) m.qi[k] = s->init_mean + s->init_std * next_gauss();

  double *bu = m.bu, *bi = m.bi, *pu = m.pu, *qi = m.qi;
  const double global_mean = m.global_mean;
  const double lr_bu = s->lr_bu, lr_bi = s->lr_bi, lr_pu = s->lr_pu, lr_qi = s->lr_qi;
  const double reg_bu = s->reg_bu, reg_bi = s->reg_bi, reg_pu = s->reg_pu, reg_qi = s->reg_qi;
  for (int current_epoch = 0; current_epoch < s->epochs; current_epoch++) {
    for (long k = 0; k < t->n_ratings; k++) {
      const int u = t->u[k];
      const int i = t->i[k];
      const double r = t->r[k];
      double *pu_row = pu + (size_t)u * n_factors;
      double *qi_row = qi + (size_t)i * n_factors;

      /* compute current error */
      double dot = 0;
      for (int f = 0; f < n_factors; f++) dot += qi_row[f] * pu_row[f];
      const double err = r - (global_mean + bu[u] + bi[i] + dot);

      /* update biases */
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);

      /* update factors */
      for (int f = 0; f < n_factors; f++) {
        const double puf = pu_row[f];
        const double qif = qi_row[f];
        pu_row[f] += lr_pu * (err * qif - reg_pu * puf);
        qi_row[f] += lr_qi * (err * puf - reg_qi * qif);
      }
    }
  }
  return m;
}

/* SVD.estimate (biased) followed by AlgoBase.predict's clipping to the rating scale: an
 * unknown user or item contributes no bias and no dot product. */
static double predict(const Trainset *t, const Model *m, const Settings *s, long raw_user, long raw_item) {
  int u = raw_user <= t->max_user ? t->user_inner[raw_user] - 1 : -1;
  int i = raw_item <= t->max_item ? t->item_inner[raw_item] - 1 : -1;
  double est = m->global_mean;
  if (u >= 0) est += m->bu[u];
  if (i >= 0) est += m->bi[i];
  if (u >= 0 && i >= 0) {
    double dot = 0;
    for (int f = 0; f < s->factors; f++) dot += m->qi[(size_t)i * s->factors + f] * m->pu[(size_t)u * s->factors + f];
    est += dot;
  }
  if (est > s->rating_max) est = s->rating_max;
  if (est < s->rating_min) est = s->rating_min;
  return est;
}

/* ---------------------------------------------------------------------------------------
 * Command line */

static double number_arg(const char *name, const char *value) {
  char *end;
  double x = strtod(value, &end);
  if (*value == '\0' || *end != '\0' || !isfinite(x)) {
    fprintf(stderr, "svd: %s expects a number, got '%s'\n", name, value);
    exit(2);
  }
  return x;
}

static int count_arg(const char *name, const char *value) {
  double x = number_arg(name, value);
  if (x < 0 || x > 100000 || x != floor(x)) {
    fprintf(stderr, "svd: %s expects an integer from 0 to 100000, got '%s'\n", name, value);
    exit(2);
  }
  return (int)x;
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  const char *data_path = NULL, *train_path = NULL, *test_path = NULL;
  double lr = 0.005, reg = 0.02;
  Settings s = {.factors = 100, .epochs = 20, .init_mean = 0, .init_std = 0.1, .seed = 0, .rating_min = 1, .rating_max = 5};
  for (int a = 1; a < argc; a++) {
    const char *name = argv[a];
    if (a + 1 >= argc) fail_usage("missing value after ", name);
    const char *value = argv[++a];
    if (strcmp(name, "--data") == 0) data_path = value;
    else if (strcmp(name, "--train") == 0) train_path = value;
    else if (strcmp(name, "--test") == 0) test_path = value;
    else if (strcmp(name, "--factors") == 0) s.factors = count_arg(name, value);
    else if (strcmp(name, "--epochs") == 0) s.epochs = count_arg(name, value);
    else if (strcmp(name, "--lr") == 0) lr = number_arg(name, value);
    else if (strcmp(name, "--reg") == 0) reg = number_arg(name, value);
    else if (strcmp(name, "--init-mean") == 0) s.init_mean = number_arg(name, value);
    else if (strcmp(name, "--init-std") == 0) s.init_std = number_arg(name, value);
    else if (strcmp(name, "--seed") == 0) s.seed = (uint64_t)count_arg(name, value);
    else if (strcmp(name, "--rating-min") == 0) s.rating_min = number_arg(name, value);
    else if (strcmp(name, "--rating-max") == 0) s.rating_max = number_arg(name, value);
    else fail_usage("unknown option ", name);
  }
  if (data_path == NULL || train_path == NULL || test_path == NULL) fail_usage("--data, --train and --test are required", "");
  if (!(s.rating_min < s.rating_max)) fail_usage("--rating-min must be below --rating-max", "");
  /* lr_all / reg_all: Surprise's per-parameter rates all default to these. */
  s.lr_bu = s.lr_bi = s.lr_pu = s.lr_qi = lr;
  s.reg_bu = s.reg_bi = s.reg_pu = s.reg_qi = reg;

  Ratings data = read_ratings(data_path);
  if (data.rows == 0) {
    fprintf(stderr, "svd: %s: no ratings\n", data_path);
    return 1;
  }
  RowList train = read_rows(train_path, data.rows);
  RowList test = read_rows(test_path, data.rows);
  Trainset trainset = construct_trainset(&data, &train);

  /* Timed like surprise.model_selection.cross_validate: around algo.fit(trainset) only. */
  double start = seconds_now();
  Model model = fit(&trainset, &s);
  double fit_seconds = seconds_now() - start;

  double squared = 0, absolute = 0;
  long unknown = 0;
  for (long k = 0; k < test.count; k++) {
    long row = test.rows[k];
    long ru = data.user[row], ri = data.item[row];
    int known = ru <= trainset.max_user && ri <= trainset.max_item && trainset.user_inner[ru] > 0 && trainset.item_inner[ri] > 0;
    if (!known) unknown++;
    double err = data.rating[row] - predict(&trainset, &model, &s, ru, ri);
    squared += err * err;
    absolute += fabs(err);
  }
  double rmse = sqrt(squared / (double)test.count);
  double mae = absolute / (double)test.count;
  if (!isfinite(rmse) || !isfinite(mae)) {
    fprintf(stderr, "svd: training diverged (non-finite test error); lower --lr\n");
    return 1;
  }
  printf(
      "{\"fit_seconds\":%.6f,\"rmse\":%.10f,\"mae\":%.10f,\"global_mean\":%.10f,\"train_ratings\":%ld,\"test_ratings\":%ld,"
      "\"test_unknown\":%ld,\"users\":%d,\"items\":%d,\"factors\":%d,\"epochs\":%d,\"lr\":%g,\"reg\":%g,\"init_mean\":%g,\"init_std\":%g}\n",
      fit_seconds, rmse, mae, model.global_mean, trainset.n_ratings, test.count, unknown, trainset.n_users, trainset.n_items, s.factors, s.epochs,
      lr, reg, s.init_mean, s.init_std);
  return 0;
}
