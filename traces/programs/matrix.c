/* A small self-contained C file (no headers) that traces/gcc-cc1.npz records gcc compiling. */
typedef unsigned long u64;

static u64 splitmix(u64 z)
{
	z += 0x9E3779B97F4A7C15ul;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
	return z ^ (z >> 31);
}

struct matrix {
	int n;
	double a[64][64];
};

void fill(struct matrix *m, u64 seed)
{
	for (int i = 0; i < m->n; i++)
		for (int j = 0; j < m->n; j++)
			m->a[i][j] = (double)(splitmix(seed + 64 * i + j) % 1000) / 1000.0;
}

void multiply(const struct matrix *x, const struct matrix *y, struct matrix *out)
{
	out->n = x->n;
	for (int i = 0; i < x->n; i++)
		for (int j = 0; j < x->n; j++) {
			double s = 0;
			for (int k = 0; k < x->n; k++)
				s += x->a[i][k] * y->a[k][j];
			out->a[i][j] = s;
		}
}

double trace_of(const struct matrix *m)
{
	double t = 0;
	for (int i = 0; i < m->n; i++)
		t += m->a[i][i];
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void sort_doubles(double *v, int n)
{
	for (int i = 1; i < n; i++) {
		double key = v[i];
		int j = i - 1;
		while (j >= 0 && cmp(&v[j], &key) > 0) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = key;
	}
}

int main(void)
{
	static struct matrix a, b, c;
	a.n = b.n = 64;
	fill(&a, 1);
	fill(&b, 2);
	multiply(&a, &b, &c);
	sort_doubles(c.a[0], 64);
	return trace_of(&c) > 0 ? 0 : 1;
}
