// seal_bench times, in Microsoft SEAL 4.1.2, the two operations that
// krelu's BenchmarkActivation times on the same parameter sets
// ("SEAL-N13-{60,40,40,60}/top", "SEAL-N14-{60,40x4,60}/top",
// "SEAL-N15-{60,40x8,60}/top" in he/bench_test.go): CKKS with ring degree
// N = 2^logN, coefficient modulus {60, 40 x k, 60} bits (the last prime is
// SEAL's special prime, krelu's P), scale 2^40, a fresh ciphertext at the top
// level. The operations:
//
//   square: square, relinearize, rescale (krelu's he.Square);
//   poly2:  p(x) = c0 + c1 x + c2 x^2 evaluated the way SEAL's example
//           4_ckks_basics evaluates its polynomial, in the two levels a
//           SEAL or TenSEAL user spends on degree 2:
//           x^2 (relinearize, rescale), c2 * x^2 (plaintext multiply,
//           rescale), c1 * x (plaintext multiply, rescale, mod switch),
//           scales aligned, added, c0 added. The coefficient plaintexts are
//           encoded once, outside the timed loop (favouring SEAL).
//
// Each timed sample runs the operation ITERS times and reports the mean per
// operation as thread CPU time (CLOCK_THREAD_CPUTIME_ID, the clock krelu's
// benchmark reports as cpu-ms/op) and wall time. Every sample also decrypts
// the last result and checks it against the plaintext polynomial, so a wrong
// evaluation cannot pass for a fast one.
//
// usage: seal_bench ITERS LOGN...      e.g. seal_bench 10 13 14 15
// output: one line per (logN, op):
//   seal logn=13 chain=60,40,40,60 op=square iters=10 cpu_ms=2.460 wall_ms=2.501 max_err=1.2e-07
#include <seal/seal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using namespace seal;

namespace {

// The polynomial of krelu's benchmark (he/bench_test.go benchPoly): the
// least-squares quadratic of ReLU under N(0,1).
const double c0 = 0.199471, c1 = 0.5, c2 = 0.199471;

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double wall_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// chain returns {60, 40 x k, 60}, k being krelu's sealChain(logN, k) argument.
std::vector<int> chain(int logn) {
  int k = logn == 13 ? 2 : logn == 14 ? 4 : 8;
  std::vector<int> bits{60};
  for (int i = 0; i < k; i++) bits.push_back(40);
  bits.push_back(60);
  return bits;
}

struct Bench {
  SEALContext context;
  CKKSEncoder encoder;
  Evaluator evaluator;
  RelinKeys rk;
  Decryptor decryptor;
  Ciphertext x;
  std::vector<double> in;
  double scale;
  Plaintext p2, p1, p0;  // c2 at level L-1, c1 at the top, c0 at level L-2

  Bench(const SEALContext &ctx, KeyGenerator &keygen, double scale)
      : context(ctx), encoder(ctx), evaluator(ctx), decryptor(ctx, keygen.secret_key()), scale(scale) {
    keygen.create_relin_keys(rk);
    PublicKey pk;
    keygen.create_public_key(pk);
    Encryptor encryptor(context, pk);
    size_t slots = encoder.slot_count();
    in.resize(slots);
    for (size_t i = 0; i < slots; i++) in[i] = -4.0 + 8.0 * double(i) / double(slots - 1);
    Plaintext pt;
    encoder.encode(in, scale, pt);
    encryptor.encrypt(pt, x);
    auto top = context.first_context_data();
    auto l1 = top->next_context_data();
    auto l2 = l1->next_context_data();
    encoder.encode(c2, l1->parms_id(), scale, p2);
    encoder.encode(c1, top->parms_id(), scale, p1);
    encoder.encode(c0, l2->parms_id(), scale, p0);
  }

  Ciphertext square() {
    Ciphertext y;
    evaluator.square(x, y);
    evaluator.relinearize_inplace(y, rk);
    evaluator.rescale_to_next_inplace(y);
    return y;
  }

  Ciphertext poly2() {
    Ciphertext x2, c1x;
    evaluator.square(x, x2);
    evaluator.relinearize_inplace(x2, rk);
    evaluator.rescale_to_next_inplace(x2);
    evaluator.multiply_plain_inplace(x2, p2);
    evaluator.rescale_to_next_inplace(x2);
    evaluator.multiply_plain(x, p1, c1x);
    evaluator.rescale_to_next_inplace(c1x);
    evaluator.mod_switch_to_inplace(c1x, x2.parms_id());
    // The primes are close to, not equal to, 2^40: align the scales as
    // SEAL's examples do (a relative error of about 2^-20 at most).
    x2.scale() = scale;
    c1x.scale() = scale;
    evaluator.add_inplace(x2, c1x);
    evaluator.add_plain_inplace(x2, p0);
    return x2;
  }

  // max_err decrypts y and returns max |y - want(x)| over the slots.
  template <class F>
  double max_err(const Ciphertext &y, F want) {
    Plaintext pt;
    decryptor.decrypt(y, pt);
    std::vector<double> out;
    encoder.decode(pt, out);
    double m = 0;
    for (size_t i = 0; i < in.size(); i++) m = std::max(m, std::abs(out[i] - want(in[i])));
    return m;
  }
};

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: seal_bench ITERS LOGN...   (ITERS >= 1; LOGN in 13, 14, 15)\n");
    return 2;
  }
  char *end = nullptr;
  long iters = std::strtol(argv[1], &end, 10);
  if (*end != 0 || iters < 1 || iters > 100000) {
    std::fprintf(stderr, "seal_bench: ITERS must be an integer in [1, 100000], got %s\n", argv[1]);
    return 2;
  }
  for (int a = 2; a < argc; a++) {
    std::string s = argv[a];
    if (s != "13" && s != "14" && s != "15") {
      std::fprintf(stderr, "seal_bench: LOGN must be 13, 14 or 15, got %s\n", argv[a]);
      return 2;
    }
  }
  for (int a = 2; a < argc; a++) {
    int logn = std::atoi(argv[a]);
    size_t n = size_t(1) << logn;
    std::vector<int> bits = chain(logn);
    EncryptionParameters parms(scheme_type::ckks);
    parms.set_poly_modulus_degree(n);
    parms.set_coeff_modulus(CoeffModulus::Create(n, bits));
    SEALContext context(parms, true, sec_level_type::tc128);
    if (!context.parameters_set()) {
      std::fprintf(stderr, "seal_bench: SEAL rejects logN %d: %s\n", logn, context.parameter_error_message());
      return 1;
    }
    KeyGenerator keygen(context);
    Bench b(context, keygen, std::pow(2.0, 40));
    std::string chs;
    for (size_t i = 0; i < bits.size(); i++) chs += (i ? "," : "") + std::to_string(bits[i]);

    struct Op {
      const char *name;
      Ciphertext (Bench::*f)();
      double (*want)(double);
    } ops[] = {
        {"square", &Bench::square, [](double v) { return v * v; }},
        {"poly2", &Bench::poly2, [](double v) { return c0 + c1 * v + c2 * v * v; }},
    };
    for (const Op &op : ops) {
      Ciphertext y = (b.*op.f)();  // warm the memory pool
      double cpu0 = thread_cpu_ms(), wall0 = wall_ms();
      for (long i = 0; i < iters; i++) y = (b.*op.f)();
      double cpu = (thread_cpu_ms() - cpu0) / double(iters), wall = (wall_ms() - wall0) / double(iters);
      double err = b.max_err(y, op.want);
      if (!(err < 1e-3)) {
        std::fprintf(stderr, "seal_bench: %s at logN %d decrypts with max error %g\n", op.name, logn, err);
        return 1;
      }
      std::printf("seal logn=%d chain=%s op=%s iters=%ld cpu_ms=%.3f wall_ms=%.3f max_err=%.1e\n", logn,
                  chs.c_str(), op.name, iters, cpu, wall, err);
      std::fflush(stdout);
    }
  }
  return 0;
}
