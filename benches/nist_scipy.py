"""scipy.optimize.least_squares(method='lm') on the NIST StRD problems from
both starts: the comparison for the table of tests/it/nist.rs (README,
"Certified accuracy"). scipy's Jacobian is by finite differences here, as
a user gets it without writing derivatives.

    python3 benches/nist_scipy.py          # scipy's default tolerances
    python3 benches/nist_scipy.py 1e-15    # ftol = xtol = gtol = 1e-15
"""
import math, os, sys
import numpy as np
from numpy import exp, sin, cos, arctan, pi
from scipy.optimize import least_squares
D=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'nist', '')
TOL=float(sys.argv[1]) if len(sys.argv) > 1 else None
M={
 'Misra1a': lambda b,x: b[0]*(1-exp(-b[1]*x)),
 'Chwirut2': lambda b,x: exp(-b[0]*x)/(b[1]+b[2]*x),
 'Chwirut1': lambda b,x: exp(-b[0]*x)/(b[1]+b[2]*x),
 'Lanczos3': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-b[3]*x)+b[4]*exp(-b[5]*x),
 'Gauss1': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-(x-b[3])**2/b[4]**2)+b[5]*exp(-(x-b[6])**2/b[7]**2),
 'Gauss2': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-(x-b[3])**2/b[4]**2)+b[5]*exp(-(x-b[6])**2/b[7]**2),
 'DanWood': lambda b,x: b[0]*x**b[1],
 'Misra1b': lambda b,x: b[0]*(1-(1+b[1]*x/2)**(-2)),
 'Kirby2': lambda b,x: (b[0]+b[1]*x+b[2]*x**2)/(1+b[3]*x+b[4]*x**2),
 'Hahn1': lambda b,x: (b[0]+b[1]*x+b[2]*x**2+b[3]*x**3)/(1+b[4]*x+b[5]*x**2+b[6]*x**3),
 'Nelson': None,
 'MGH17': lambda b,x: b[0]+b[1]*exp(-x*b[3])+b[2]*exp(-x*b[4]),
 'Lanczos1': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-b[3]*x)+b[4]*exp(-b[5]*x),
 'Lanczos2': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-b[3]*x)+b[4]*exp(-b[5]*x),
 'Gauss3': lambda b,x: b[0]*exp(-b[1]*x)+b[2]*exp(-(x-b[3])**2/b[4]**2)+b[5]*exp(-(x-b[6])**2/b[7]**2),
 'Misra1c': lambda b,x: b[0]*(1-(1+2*b[1]*x)**(-.5)),
 'Misra1d': lambda b,x: b[0]*b[1]*x*((1+b[1]*x)**(-1)),
 'Roszman1': lambda b,x: b[0]-b[1]*x-arctan(b[2]/(x-b[3]))/pi,
 'ENSO': lambda b,x: b[0]+b[1]*cos(2*pi*x/12)+b[2]*sin(2*pi*x/12)+b[4]*cos(2*pi*x/b[3])+b[5]*sin(2*pi*x/b[3])+b[7]*cos(2*pi*x/b[6])+b[8]*sin(2*pi*x/b[6]),
 'MGH09': lambda b,x: b[0]*(x**2+x*b[1])/(x**2+x*b[2]+b[3]),
 'Thurber': lambda b,x: (b[0]+b[1]*x+b[2]*x**2+b[3]*x**3)/(1+b[4]*x+b[5]*x**2+b[6]*x**3),
 'BoxBOD': lambda b,x: b[0]*(1-exp(-b[1]*x)),
 'Rat42': lambda b,x: b[0]/(1+exp(b[1]-b[2]*x)),
 'MGH10': lambda b,x: b[0]*exp(b[1]/(x+b[2])),
 'Eckerle4': lambda b,x: (b[0]/b[1])*exp(-0.5*((x-b[2])/b[1])**2),
 'Rat43': lambda b,x: b[0]/((1+exp(b[1]-b[2]*x))**(1/b[3])),
 'Bennett5': lambda b,x: b[0]*(b[1]+x)**(-1/b[2]),
}
def read(name):
    params=[];rss=None;cols=None;data=[]
    for l in open(D+name+'.dat'):
        w=l.split()
        if len(w)==6 and w[0].startswith('b') and w[1]=='=':
            params.append((w[0],[float(w[2]),float(w[3])],float(w[4]),float(w[5])))
        elif l.startswith('Residual Sum of Squares:'): rss=float(w[-1])
        elif w[:1]==['Data:'] and w[1:2]==['y']: cols=w[1:]
        elif cols and w: data.append([float(v) for v in w])
    return params,rss,cols,np.array(data)
def lre(g,w):
    if g==w: return 11.0
    r=abs(g-w)/abs(w)
    if not np.isfinite(r): return 0.0
    return min(11.0,max(0.0,-math.log10(r)))
tot=[];fails=0
print(f"{'problem':10} {'start':>5} {'params':>7} {'rss':>7} {'nfev':>6} status")
for name,f in M.items():
    params,rss,cols,data=read(name)
    y=data[:,0]
    for s in range(2):
        b0=np.array([p[1][s] for p in params])
        if name=='Nelson':
            x1,x2=data[:,1],data[:,2]
            fun=lambda b: b[0]-b[1]*x1*exp(-b[2]*x2)-np.log(y)
        else:
            x=data[:,1]
            fun=lambda b: f(b,x)-y
        try:
            with np.errstate(all='ignore'):
                tol = {} if TOL is None else dict(ftol=TOL, xtol=TOL, gtol=TOL)
                res=least_squares(fun,b0,method='lm',**tol)
            pl=min(lre(g,p[2]) for g,p in zip(res.x,params))
            rl=lre(2*res.cost,rss)
            st=res.status; nf=res.nfev
        except Exception as e:
            pl=0.0;rl=0.0;st='error';nf=0
        tot.append(pl)
        print(f"{name:10} {s+1:>5} {pl:7.1f} {rl:7.1f} {nf:>6} {st}")
print(f"mean parameter LRE {np.mean(tot):.2f} over {len(tot)} runs; runs below 4: {sum(1 for t in tot if t<4)}")
