/* Transparency checks for the PMPI layer. The same binary runs without the
 * layer and with libckpt_pmpi.so preloaded; it must pass both ways. With
 * CKPT_EXPECT_LAYER=1 it also checks that the layer intercepted its calls.
 * Needs 2 or more ranks. Exits non-zero (on every rank) on any failure. */
#include <dlfcn.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "[rank %d] %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, #cond);   \
      ++g_failures;                                                                                \
    }                                                                                              \
  } while (0)

enum { ERR_SENTINEL = 0x5a5a };

static int count_of(const MPI_Status *st, MPI_Datatype t) {
  int n = -1;
  MPI_Get_count(st, t, &n);
  return n;
}

/* MPICH isendself: a status the application owns keeps its MPI_ERROR. */
static void status_error_untouched(void) {
  int out = 42, in = 0;
  MPI_Request r;
  MPI_Status st;
  st.MPI_ERROR = ERR_SENTINEL;
  MPI_Isend(&out, 1, MPI_INT, g_rank, 3, MPI_COMM_WORLD, &r);
  MPI_Recv(&in, 1, MPI_INT, g_rank, 3, MPI_COMM_WORLD, &st);
  CHECK(st.MPI_ERROR == ERR_SENTINEL);
  CHECK(st.MPI_SOURCE == g_rank && st.MPI_TAG == 3 && count_of(&st, MPI_INT) == 1 && in == 42);
  st.MPI_ERROR = ERR_SENTINEL;
  MPI_Wait(&r, &st);
  CHECK(st.MPI_ERROR == ERR_SENTINEL);
  CHECK(r == MPI_REQUEST_NULL);

  MPI_Irecv(&in, 1, MPI_INT, g_rank, 4, MPI_COMM_WORLD, &r);
  MPI_Send(&out, 1, MPI_INT, g_rank, 4, MPI_COMM_WORLD);
  st.MPI_ERROR = ERR_SENTINEL;
  int flag = 0;
  while (!flag)
    MPI_Test(&r, &flag, &st);
  CHECK(st.MPI_ERROR == ERR_SENTINEL && st.MPI_SOURCE == g_rank && st.MPI_TAG == 4);
}

static void proc_null(void) {
  int buf = 7;
  MPI_Status st;
  st.MPI_ERROR = ERR_SENTINEL;
  CHECK(MPI_Send(&buf, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD) == MPI_SUCCESS);
  CHECK(MPI_Recv(&buf, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st) == MPI_SUCCESS);
  CHECK(st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && count_of(&st, MPI_INT) == 0);
  CHECK(st.MPI_ERROR == ERR_SENTINEL && buf == 7);
  MPI_Request r[2];
  MPI_Isend(&buf, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &r[0]);
  MPI_Irecv(&buf, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &r[1]);
  MPI_Status sts[2];
  CHECK(MPI_Waitall(2, r, sts) == MPI_SUCCESS);
  CHECK(r[0] == MPI_REQUEST_NULL && r[1] == MPI_REQUEST_NULL);
  CHECK(sts[1].MPI_SOURCE == MPI_PROC_NULL && count_of(&sts[1], MPI_INT) == 0);
  CHECK(MPI_Sendrecv(&buf, 1, MPI_INT, MPI_PROC_NULL, 0, &buf, 1, MPI_INT, MPI_PROC_NULL, 0,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_SUCCESS);
}

/* Wildcards keep per-sender order; probes report the next message. */
static void wildcards(int size) {
  if (g_rank == 0) {
    for (int src = 1; src < size; ++src) {
      for (int k = 0; k < 3; ++k) {
        int v = -1;
        MPI_Status st;
        MPI_Probe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        CHECK(st.MPI_SOURCE == src && st.MPI_TAG == 10 + k);
        int flag = 0;
        while (!flag)
          MPI_Iprobe(MPI_ANY_SOURCE, 10 + k, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        MPI_Recv(&v, 1, MPI_INT, src, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        CHECK(v == 100 * src + k && st.MPI_TAG == 10 + k);
      }
    }
    int seen = 0;
    for (int i = 0; i < size - 1; ++i) {
      int v;
      MPI_Status st;
      MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      CHECK(st.MPI_TAG == 20 && v == st.MPI_SOURCE);
      seen |= 1 << st.MPI_SOURCE;
    }
    CHECK(seen == ((1 << size) - 2));
  } else {
    for (int k = 0; k < 3; ++k) {
      int v = 100 * g_rank + k;
      MPI_Send(&v, 1, MPI_INT, 0, 10 + k, MPI_COMM_WORLD);
    }
    MPI_Send(&g_rank, 1, MPI_INT, 0, 20, MPI_COMM_WORLD);
  }
}

static void persistent(void) {
  int peer = g_rank ^ 1, out = 0, in = -1;
  MPI_Request r[2];
  MPI_Status sts[2];
  MPI_Send_init(&out, 1, MPI_INT, peer, 5, MPI_COMM_WORLD, &r[0]);
  MPI_Recv_init(&in, 1, MPI_INT, peer, 5, MPI_COMM_WORLD, &r[1]);
  /* Inactive persistent requests complete at once with an empty status. */
  MPI_Status st;
  st.MPI_ERROR = ERR_SENTINEL;
  MPI_Wait(&r[1], &st);
  CHECK(r[1] != MPI_REQUEST_NULL && st.MPI_ERROR == ERR_SENTINEL);
  CHECK(st.MPI_TAG == MPI_ANY_TAG && st.MPI_SOURCE == MPI_ANY_SOURCE);
  for (int it = 0; it < 4; ++it) {
    out = 1000 * g_rank + it;
    if (it % 2)
      MPI_Startall(2, r);
    else {
      MPI_Start(&r[1]);
      MPI_Start(&r[0]);
    }
    MPI_Waitall(2, r, sts);
    CHECK(in == 1000 * peer + it && sts[1].MPI_SOURCE == peer && sts[1].MPI_TAG == 5);
    CHECK(r[0] != MPI_REQUEST_NULL && r[1] != MPI_REQUEST_NULL);
  }
  MPI_Request_free(&r[0]);
  MPI_Request_free(&r[1]);
  CHECK(r[0] == MPI_REQUEST_NULL && r[1] == MPI_REQUEST_NULL);
}

static void cancelled(void) {
  int in = 0, flag = 0;
  MPI_Request r;
  MPI_Status st;
  MPI_Irecv(&in, 1, MPI_INT, MPI_ANY_SOURCE, 999, MPI_COMM_WORLD, &r);
  MPI_Cancel(&r);
  MPI_Wait(&r, &st);
  MPI_Test_cancelled(&st, &flag);
  CHECK(flag == 1 && r == MPI_REQUEST_NULL);
}

static void completion_families(void) {
  int peer = g_rank ^ 1, out[3] = {1, 2, 3}, in[3] = {0, 0, 0};
  MPI_Request r[5];
  int index, flag, outcount, indices[5];
  MPI_Status sts[5];
  r[0] = MPI_REQUEST_NULL;
  r[4] = MPI_REQUEST_NULL;
  /* All null: Waitany/Testany report MPI_UNDEFINED. */
  MPI_Waitany(1, r, &index, MPI_STATUS_IGNORE);
  CHECK(index == MPI_UNDEFINED);
  MPI_Testany(1, r, &index, &flag, MPI_STATUS_IGNORE);
  CHECK(index == MPI_UNDEFINED && flag == 1);
  MPI_Waitsome(1, r, &outcount, indices, MPI_STATUSES_IGNORE);
  CHECK(outcount == MPI_UNDEFINED);

  for (int k = 0; k < 3; ++k)
    MPI_Irecv(&in[k], 1, MPI_INT, peer, 30 + k, MPI_COMM_WORLD, &r[1 + k]);
  for (int k = 2; k >= 0; --k)
    MPI_Send(&out[k], 1, MPI_INT, peer, 30 + k, MPI_COMM_WORLD);
  int done = 0;
  while (done < 3) {
    MPI_Waitsome(5, r, &outcount, indices, sts);
    CHECK(outcount != MPI_UNDEFINED);
    for (int j = 0; j < outcount; ++j) {
      CHECK(sts[j].MPI_TAG == 29 + indices[j] && sts[j].MPI_SOURCE == peer);
      CHECK(r[indices[j]] == MPI_REQUEST_NULL);
    }
    done += outcount;
  }
  CHECK(in[0] == 1 && in[1] == 2 && in[2] == 3);

  MPI_Irecv(&in[0], 1, MPI_INT, peer, 40, MPI_COMM_WORLD, &r[2]);
  MPI_Send(&out[1], 1, MPI_INT, peer, 40, MPI_COMM_WORLD);
  MPI_Waitany(5, r, &index, &sts[0]);
  CHECK(index == 2 && sts[0].MPI_TAG == 40 && in[0] == 2 && r[2] == MPI_REQUEST_NULL);

  MPI_Irecv(&in[1], 1, MPI_INT, peer, 41, MPI_COMM_WORLD, &r[3]);
  MPI_Send(&out[2], 1, MPI_INT, peer, 41, MPI_COMM_WORLD);
  flag = 0;
  while (!flag)
    MPI_Testall(5, r, &flag, MPI_STATUSES_IGNORE);
  CHECK(in[1] == 3 && r[3] == MPI_REQUEST_NULL);

  MPI_Irecv(&in[2], 1, MPI_INT, peer, 42, MPI_COMM_WORLD, &r[1]);
  MPI_Send(&out[0], 1, MPI_INT, peer, 42, MPI_COMM_WORLD);
  flag = 0;
  while (!flag)
    MPI_Testany(5, r, &index, &flag, &sts[0]);
  CHECK(index == 1 && in[2] == 1 && sts[0].MPI_TAG == 42);
  outcount = 0;
  MPI_Testsome(5, r, &outcount, indices, sts);
  CHECK(outcount == MPI_UNDEFINED);

  /* Request_get_status does not free. */
  MPI_Irecv(&in[0], 1, MPI_INT, peer, 43, MPI_COMM_WORLD, &r[0]);
  MPI_Send(&out[0], 1, MPI_INT, peer, 43, MPI_COMM_WORLD);
  flag = 0;
  while (!flag)
    MPI_Request_get_status(r[0], &flag, &sts[0]);
  CHECK(r[0] != MPI_REQUEST_NULL && sts[0].MPI_TAG == 43);
  MPI_Wait(&r[0], MPI_STATUS_IGNORE);
  CHECK(r[0] == MPI_REQUEST_NULL);
}

/* Derived datatypes: counts and elements, partial messages, MPI_BOTTOM. */
static void datatypes(void) {
  int peer = g_rank ^ 1;
  MPI_Datatype pair;
  int blocklens[2] = {1, 1};
  MPI_Aint displs[2] = {0, sizeof(double)};
  MPI_Datatype types[2] = {MPI_DOUBLE, MPI_INT};
  MPI_Type_create_struct(2, blocklens, displs, types, &pair);
  MPI_Type_commit(&pair);
  struct {
    double d;
    int i;
  } out[3] = {{1.5, 1}, {2.5, 2}, {3.5, 3}}, in[4];
  MPI_Status st;
  /* 2 full elements plus a lone double: 5 basic elements, count undefined. */
  MPI_Sendrecv(out, 2, pair, peer, 50, in, 4, pair, peer, 50, MPI_COMM_WORLD, &st);
  CHECK(count_of(&st, pair) == 2 && in[1].d == 2.5 && in[1].i == 2);
  double lone = 9.0;
  MPI_Sendrecv(&lone, 1, MPI_DOUBLE, peer, 51, in, 4, pair, peer, 51, MPI_COMM_WORLD, &st);
  int elements = -1;
  MPI_Get_elements(&st, pair, &elements);
  CHECK(count_of(&st, pair) == MPI_UNDEFINED && elements == 1 && in[0].d == 9.0);

  /* MPI_BOTTOM with absolute addresses. */
  int value = 77 + g_rank, got = 0;
  MPI_Aint a_out, a_in;
  MPI_Get_address(&value, &a_out);
  MPI_Get_address(&got, &a_in);
  MPI_Datatype t_out, t_in;
  int one = 1;
  MPI_Type_create_hindexed(1, &one, &a_out, MPI_INT, &t_out);
  MPI_Type_create_hindexed(1, &one, &a_in, MPI_INT, &t_in);
  MPI_Type_commit(&t_out);
  MPI_Type_commit(&t_in);
  MPI_Sendrecv(MPI_BOTTOM, 1, t_out, peer, 52, MPI_BOTTOM, 1, t_in, peer, 52, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
  CHECK(got == 77 + peer);
  MPI_Type_free(&t_out);
  MPI_Type_free(&t_in);
  MPI_Type_free(&pair);
}

static void matched_probe(void) {
  int peer = g_rank ^ 1, v = g_rank, got = -1, flag = 0;
  MPI_Message m;
  MPI_Status st;
  MPI_Send(&v, 1, MPI_INT, peer, 60, MPI_COMM_WORLD);
  MPI_Mprobe(MPI_ANY_SOURCE, 60, MPI_COMM_WORLD, &m, &st);
  CHECK(st.MPI_SOURCE == peer && count_of(&st, MPI_INT) == 1);
  MPI_Mrecv(&got, 1, MPI_INT, &m, &st);
  CHECK(got == peer && m == MPI_MESSAGE_NULL);
  MPI_Send(&v, 1, MPI_INT, peer, 61, MPI_COMM_WORLD);
  while (!flag)
    MPI_Improbe(peer, 61, MPI_COMM_WORLD, &flag, &m, MPI_STATUS_IGNORE);
  MPI_Request r;
  MPI_Imrecv(&got, 1, MPI_INT, &m, &r);
  MPI_Wait(&r, &st);
  CHECK(got == peer && st.MPI_TAG == 61);
  MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &m, &st);
  CHECK(m == MPI_MESSAGE_NO_PROC && st.MPI_SOURCE == MPI_PROC_NULL);
  MPI_Mrecv(&got, 1, MPI_INT, &m, MPI_STATUS_IGNORE);
}

static void collectives_and_comms(int size) {
  int v = g_rank + 1, sum = 0;
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(v == size * (size + 1) / 2);
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, g_rank % 2, -g_rank, &half);
  int hr, hs;
  MPI_Comm_rank(half, &hr);
  MPI_Comm_size(half, &hs);
  MPI_Request r;
  MPI_Iallreduce(&g_rank, &sum, 1, MPI_INT, MPI_SUM, half, &r);
  MPI_Wait(&r, MPI_STATUS_IGNORE);
  int expect = 0;
  for (int k = g_rank % 2; k < size; k += 2)
    expect += k;
  CHECK(sum == expect);
  int tok = hr, got = -1;
  MPI_Sendrecv(&tok, 1, MPI_INT, (hr + 1) % hs, 0, &got, 1, MPI_INT, (hr + hs - 1) % hs, 0, half,
               MPI_STATUS_IGNORE);
  CHECK(got == (hr + hs - 1) % hs);
  MPI_Comm_free(&half);
  CHECK(half == MPI_COMM_NULL);
  MPI_Comm none;
  MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, 0, &none);
  CHECK(none == MPI_COMM_NULL);
}

/* Errors are returned unchanged under MPI_ERRORS_RETURN. */
static void error_codes(void) {
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int v = 0, cls = 0;
  int rc = MPI_Send(&v, 1, MPI_INT, 1 << 20, 0, MPI_COMM_WORLD);
  MPI_Error_class(rc, &cls);
  CHECK(rc != MPI_SUCCESS && cls == MPI_ERR_RANK);
  int peer = g_rank ^ 1, big[2] = {1, 2};
  MPI_Status st;
  st.MPI_ERROR = ERR_SENTINEL;
  rc = MPI_Sendrecv(big, 2, MPI_INT, peer, 70, &v, 1, MPI_INT, peer, 70, MPI_COMM_WORLD, &st);
  MPI_Error_class(rc, &cls);
  CHECK(cls == MPI_ERR_TRUNCATE);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

typedef int (*TotalsFn)(MPI_Comm, unsigned long long *, unsigned long long *, unsigned long long *);

int main(int argc, char **argv) {
  int provided = -1, size;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  CHECK(provided >= MPI_THREAD_FUNNELED);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2 || size % 2) {
    if (g_rank == 0) fprintf(stderr, "needs an even number of ranks\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  status_error_untouched();
  proc_null();
  wildcards(size);
  persistent();
  cancelled();
  completion_families();
  datatypes();
  matched_probe();
  collectives_and_comms(size);
  error_codes();

  TotalsFn totals = (TotalsFn)dlsym(RTLD_DEFAULT, "ckpt_pmpi_channel_totals");
  const char *expect = getenv("CKPT_EXPECT_LAYER");
  if (expect && atoi(expect)) {
    CHECK(totals != NULL);
    if (totals) {
      unsigned long long sent = 0, received = 0, coll = 0;
      CHECK(totals(MPI_COMM_WORLD, &sent, &received, &coll) == MPI_SUCCESS);
      CHECK(sent > 10 && received > 10 && coll >= 1);
    }
  }
  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0)
    printf("transparency: %s (%d failure(s)%s)\n", failures ? "FAILED" : "passed", failures,
           totals ? ", layer loaded" : ", no layer");
  MPI_Finalize();
  return failures ? 1 : 0;
}
